"""The DraftKings parser against real public captures in ../shared/fixtures/captured.

The files are read in place (never copied into the repo); expectations are computed here from
the raw JSON, independently of the parser.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from snuper.feed import FeedBatch, MarketStatus, Quote, Removed
from snuper.providers.draftkings.parse import FrameDecoder, parse_league, subscribe_message

CAPTURED = Path(
    os.environ.get("SNUPER_CAPTURED_DIR")
    or Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "captured"
)
SITE = "https://sportsbook.draftkings.com"

pytestmark = pytest.mark.skipif(
    not CAPTURED.exists(), reason=f"captured fixtures not found at {CAPTURED}"
)

REST_FILES = {
    "draftkings_nfl_game_lines_snapshot.json": (15, 90),
    "draftkings_nfl_snapshot_at_initial.json": (29, 174),
}
WS_FILES = (
    "draftkings_ws_nfl_initial_data.json",
    "draftkings_ws_nfl_pregame_subscribe.json",
    "draftkings_ws_game_end_deletes.json",
)
MAIN_KINDS = {2: "moneyline", 1: "spread", 6: "total"}


def _american(text: str) -> int:
    return int(text.replace("\u2212", "-").replace("+", ""))


def _load(name: str) -> Any:
    return json.loads((CAPTURED / name).read_bytes())


# ---------------------------------------------------------------------------------------------
# REST snapshots
# ---------------------------------------------------------------------------------------------


def test_every_draftkings_file_is_covered() -> None:
    present = {p.name for p in CAPTURED.glob("draftkings_*")}
    covered = set(REST_FILES) | set(WS_FILES) | {"draftkings_json_ws-messages.jsonl"}
    assert present == covered


@pytest.mark.parametrize("name", sorted(REST_FILES))
def test_rest_snapshot_matches_raw(name: str) -> None:
    raw = _load(name)
    events = parse_league(raw, "nfl", site_base=SITE)
    n_events, n_selections = REST_FILES[name]
    assert len(events) == n_events == len(raw["events"])
    parsed = {s.selection_id: (e, s) for e in events for s in e.selections}
    assert len(parsed) == n_selections

    raw_events = {e["id"]: e for e in raw["events"]}
    market_kind = {
        m["id"]: (m["eventId"], MAIN_KINDS[m["marketType"]["betOfferTypeId"]])
        for m in raw["markets"]
        if m["marketType"]["betOfferTypeId"] in MAIN_KINDS
    }
    checked = 0
    for sel in raw["selections"]:
        if sel["marketId"] not in market_kind:
            continue
        event_id, kind = market_kind[sel["marketId"]]
        event, got = parsed[sel["id"]]
        assert event.event_id == event_id
        assert got.market_id == sel["marketId"]
        assert got.market == kind
        assert got.side == sel["outcomeType"].lower()
        assert got.label == sel["label"]
        assert got.line == (None if kind == "moneyline" else float(sel["points"]))
        assert got.odds_american == _american(sel["displayOdds"]["american"])
        assert got.odds_decimal == float(sel["displayOdds"]["decimal"])
        checked += 1
    assert checked == n_selections

    for event in events:
        raw_event = raw_events[event.event_id]
        roles = {p["venueRole"]: p["name"] for p in raw_event["participants"]}
        assert (event.home, event.away) == (roles["Home"], roles["Away"])
        assert event.name == raw_event["name"]
        assert event.event_url == f"{SITE}/event/{raw_event['seoIdentifier']}/{event.event_id}"
        assert event.start_time.isoformat().startswith(raw_event["startEventDate"][:19])
        assert [s.market for s in event.selections] == ["moneyline"] * 2 + ["spread"] * 2 + [
            "total"
        ] * 2
        assert [s.side for s in event.selections] == ["home", "away"] * 2 + ["over", "under"]
        ids = event.meta["market_ids"]
        assert set(ids) == {"moneyline", "spread", "total"}
        assert all(market_kind[m] == (event.event_id, k) for k, m in ids.items())
    assert [(e.start_time, e.event_id) for e in events] == sorted(
        (e.start_time, e.event_id) for e in events
    )


# ---------------------------------------------------------------------------------------------
# msgpack websocket captures
# ---------------------------------------------------------------------------------------------


def _sockets(name: str) -> Iterator[list[dict[str, Any]]]:
    data = _load(name)
    if "sockets" in data:
        for socket in data["sockets"]:
            yield socket["frames"]
    else:
        yield data["frames"]


def _expected_kind(frame: list[Any]) -> str:
    if frame[1] in ("subscribed", "unsubscribe"):
        return "ack"
    if frame[1] == "update" and frame[2][0] is not None:
        return "update"
    return "ignored"


def _asks_initial_data(subscribe: dict[str, Any]) -> bool:
    query_params = subscribe["params"].get("queryParams") or {}
    return query_params.get("initialData") is True


def _decode_file(name: str, *, track: bool, initial_data: bool | None = None) -> list[FeedBatch]:
    """Every received frame through one decoder per socket. Subscriptions are tracked with the
    initialData they asked for, or with `initial_data` when given."""
    batches = []
    for frames in _sockets(name):
        decoder = FrameDecoder()  # one per socket, as the monitor does
        decoder.new_connection()
        for frame in frames:
            raw = base64.b64decode(frame["raw_b64"])
            plain = msgpack.unpackb(raw, timestamp=3, strict_map_key=False)
            if frame["dir"] == "send":
                assert isinstance(plain, dict)
                assert plain["jsonrpc"] == "2.0"
                assert plain["method"] in ("subscribe", "unsubscribe")
                if plain["method"] == "subscribe" and track:
                    asked = _asks_initial_data(plain) if initial_data is None else initial_data
                    decoder.track(plain["id"], plain["params"]["entity"], initial_data=asked)
                continue
            assert frame["dir"] == "receive"
            batch = decoder.decode(raw)
            assert batch.kind == _expected_kind(plain), plain
            batches.append(batch)
    return batches


@pytest.mark.parametrize("track", [True, False], ids=["tracked", "inferred"])
@pytest.mark.parametrize("name", WS_FILES)
def test_ws_frames_decode_and_classify(name: str, track: bool) -> None:
    batches = _decode_file(name, track=track)
    assert batches
    # No captured subscription received initial data: nothing claims to be a complete state.
    assert all(b.events_listed is None for b in batches)
    assert all(b.source_ts is None or b.source_ts.endswith("Z") for b in batches)


def test_ws_initial_data_capture() -> None:
    """The site's own initialData:true subscribe, and all the book sent within 15 s: its
    "subscribed" reply. No initial-state update came, so the decoder keeps waiting for the
    subscription's first update (and reads that as the state only if it is one)."""
    frames = next(_sockets("draftkings_ws_nfl_initial_data.json"))
    assert [f["dir"] for f in frames] == ["send", "receive"]
    subscribe = msgpack.unpackb(base64.b64decode(frames[0]["raw_b64"]))
    assert subscribe["method"] == "subscribe" and _asks_initial_data(subscribe)
    assert subscribe["params"]["entity"] == "events"
    decoder = FrameDecoder()
    decoder.new_connection()
    decoder.track(subscribe["id"], "events", initial_data=True)
    reply = decoder.decode(base64.b64decode(frames[1]["raw_b64"]))
    assert reply == FeedBatch("ack") and reply.events_listed is None
    assert dict(decoder.tracked) == {subscribe["id"]: "events"}


@pytest.mark.parametrize("name", WS_FILES)
def test_ws_real_deltas_are_never_taken_for_initial_state(name: str) -> None:
    """As if every captured subscription had asked for initial data: their real first updates
    are deltas (event changes, deletes), and none is mistaken for a complete state, which would
    declare every other event over."""
    batches = _decode_file(name, track=True, initial_data=True)
    assert all(b.events_listed is None for b in batches)


def test_ws_pregame_counts() -> None:
    kinds = [b.kind for b in _decode_file("draftkings_ws_nfl_pregame_subscribe.json", track=True)]
    # README: 12 subscribed + 7 unsubscribe acks, 2 ContentCards updates.
    assert (kinds.count("ack"), kinds.count("ignored"), kinds.count("update")) == (19, 2, 0)


@pytest.mark.parametrize("track", [True, False], ids=["tracked", "inferred"])
def test_ws_game_end_deletes(track: bool) -> None:
    batches = _decode_file("draftkings_ws_game_end_deletes.json", track=track)
    items = [item for b in batches for item in b.items]
    assert all(isinstance(item, Removed) for item in items)
    assert {(i.kind, i.entity_id) for i in items if isinstance(i, Removed)} == {
        ("event", "34787551"),
        ("market", "2_86627179"),
        ("market", "3_86627202"),
        ("selection", "0HC86627179N550_1"),
        ("selection", "0HC86627179P550_3"),
        ("selection", "0OU86627202U1650_3"),
        ("selection", "0OU86627202O1650_1"),
    }
    updates = [b for b in batches if b.kind == "update"]
    assert len(updates) == 16
    assert all(b.source_ts and b.source_ts.endswith("Z") for b in updates)


def test_our_subscribe_has_the_captured_keys() -> None:
    """Same keys at every level as the site's own league subscription (values may differ)."""
    frames = next(_sockets("draftkings_ws_nfl_initial_data.json"))
    site = msgpack.unpackb(base64.b64decode(frames[0]["raw_b64"]))
    ours = msgpack.unpackb(
        subscribe_message(site["id"], league_id="88808", subcategory_id="4518", site_name="dkusil")
    )

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        return type(value).__name__

    assert shape(ours) == shape(site)
    assert ours["params"]["clientMetadata"] == site["params"]["clientMetadata"]
    assert ours["params"]["queryParams"]["initialData"] is True
    # The site adds an OSB tag clause to both filters; ours is the documented prefix of them.
    for key in ("query", "includeMarkets"):
        assert site["params"]["queryParams"][key].startswith(ours["params"]["queryParams"][key])


# ---------------------------------------------------------------------------------------------
# format=json websocket capture
# ---------------------------------------------------------------------------------------------


def test_json_ws_messages() -> None:
    lines = (CAPTURED / "draftkings_json_ws-messages.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 44
    decoder = FrameDecoder()
    # Tracked as if it had asked for initial data: its messages say "initialdata:False", and its
    # first update is a delta, so none is read as a complete state.
    decoder.track(json.loads(lines[0])["id"], "events", initial_data=True)
    replaced = 0
    for line in lines:
        raw = json.loads(line)
        batch = decoder.decode(line)
        if raw["event"] == "subscribed":
            assert batch == FeedBatch("ack")
            continue
        assert batch.kind == "update"
        assert "initialdata:False" in raw["context"]["messageTags"]
        assert batch.events_listed is None
        assert batch.source_ts == raw["data"]["metadata"]["publishedTime"]
        body = raw["data"]["data"]
        expected: list[Any] = []
        for op in ("add", "change"):
            for sel in body[op].get("selections", []):
                if "displayOdds" not in sel:
                    continue
                expected.append(
                    (
                        sel["id"],
                        _american(sel["displayOdds"]["american"]),
                        float(sel["displayOdds"]["decimal"]),
                        None if sel.get("points") is None else float(sel["points"]),
                        sel.get("replacedSelectionId"),
                    )
                )
        quotes = [i for i in batch.items if isinstance(i, Quote)]
        got = [
            (q.selection_id, q.odds_american, q.odds_decimal, q.line, q.replaced_id) for q in quotes
        ]
        assert got == expected
        replaced += sum(1 for q in quotes if q.replaced_id)

        removed = [(i.kind, i.entity_id) for i in batch.items if isinstance(i, Removed)]
        assert removed == [
            (kind, entity_id)
            for key, kind in (
                ("events", "event"),
                ("markets", "market"),
                ("selections", "selection"),
            )
            for entity_id in body["remove"].get(key, [])
        ]
        statuses = [(i.market_id, i.suspended) for i in batch.items if isinstance(i, MarketStatus)]
        assert statuses == [
            (m["id"], m["isSuspended"])
            for op in ("add", "change")
            for m in body[op].get("markets", [])
            if "isSuspended" in m
        ]
    # Line moves: 8 adds and 14 changes carry replacedSelectionId in this capture.
    assert replaced == 22
