"""The Bovada parser against the real public captures in ../shared/fixtures/captured (soccer).

Their periods ("RT") and market keys (3-way moneylines, split handicaps) differ from the US
leagues: every event, market and outcome must still read without an error, and the main lines
found must be the ones the raw JSON says. Expectations are computed here from the raw JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from snuper.providers.bovada.parse import main_lines, parse_coupon, parse_event, to_event

CAPTURED = Path(
    os.environ.get("SNUPER_CAPTURED_DIR")
    or Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "captured"
)
COUPON = "bovada_coupon_live_soccer_2023-08.json"
EVENT = "bovada_event_soccer_2023-08.json"

pytestmark = pytest.mark.skipif(
    not CAPTURED.exists(), reason=f"captured fixtures not found at {CAPTURED}"
)


def _load(name: str) -> Any:
    return json.loads((CAPTURED / name).read_bytes())


def _american(text: str) -> int:
    return 100 if text == "EVEN" else int(text)


def _expected_main(raw_event: dict[str, Any]) -> set[tuple[str, str, str, float | None, int]]:
    """(market id, outcome id, type, line, American) of each two-way game-period market in the
    event's first non-alternate group, read straight from the JSON."""
    found = set()
    kinds = {"2W-12", "2W-HCAP", "2W-OU"}
    taken: set[str] = set()
    for group in raw_event["displayGroups"]:
        if "alternate" in group["description"].lower() or group.get("alternateType"):
            continue
        for market in group["markets"]:
            types = sorted(o["type"] for o in market["outcomes"])
            if market["key"] not in kinds or not market["period"]["main"]:
                continue
            if market["key"] in taken or types not in (["A", "H"], ["O", "U"]):
                continue
            taken.add(market["key"])
            for o in market["outcomes"]:
                price = o["price"]
                hcap = [float(price[k]) for k in ("handicap", "handicap2") if k in price]
                line = sum(hcap) / len(hcap) if hcap and market["key"] != "2W-12" else None
                found.add((market["id"], o["id"], o["type"], line, _american(price["american"])))
    return found


def _counts(raw_event: dict[str, Any]) -> tuple[int, int, int]:
    markets = [m for g in raw_event["displayGroups"] for m in g["markets"]]
    return len(raw_event["displayGroups"]), len(markets), sum(len(m["outcomes"]) for m in markets)


def test_the_coupon_reads_whole() -> None:
    raw = _load(COUPON)
    events = parse_coupon(raw)
    raw_events = [e for group in raw for e in group["events"]]
    assert len(events) == len(raw_events) == 22
    for ev, raw_ev in zip(events, raw_events, strict=True):
        assert ev.event_id == raw_ev["id"]
        markets = [m for g in ev.groups for m in g.markets]
        parsed = (len(ev.groups), len(markets), sum(len(m.outcomes) for m in markets))
        assert parsed == _counts(raw_ev)
        home = next(c["name"] for c in raw_ev["competitors"] if c["home"])
        away = next(c["name"] for c in raw_ev["competitors"] if not c["home"])
        assert (ev.home, ev.away) == (home, away)
        assert int(ev.start.timestamp() * 1000) == raw_ev["startTime"]


def test_the_coupons_main_lines_are_the_raw_ones() -> None:
    raw = _load(COUPON)
    raw_events = [e for group in raw for e in group["events"]]
    total = 0
    for ev, raw_ev in zip(parse_coupon(raw), raw_events, strict=True):
        lines, suspended = main_lines(ev)
        side_type = {"home": "H", "away": "A", "over": "O", "under": "U"}
        got = {(s.market_id, s.selection_id, side_type[s.side], s.line, s.american) for s in lines}
        assert got == _expected_main(raw_ev)
        raw_suspended = {
            m["id"] for g in raw_ev["displayGroups"] for m in g["markets"] if m["status"] != "O"
        }
        assert suspended == {s.market_id for s in lines} & raw_suspended
        total += len(lines)
        to_event(ev, "nba", "https://www.bovada.lv")  # the snapshot's event builds too
    # 22 goal spreads and 22 totals, the 3-way moneylines skipped
    assert total == 88


def test_the_single_event_reads_whole_and_skips_other_periods_and_alternates() -> None:
    raw = _load(EVENT)
    ev = parse_event(raw)
    markets = [m for g in ev.groups for m in g.markets]
    assert (len(ev.groups), len(markets), sum(len(m.outcomes) for m in markets)) == _counts(raw)
    lines, _ = main_lines(ev)
    assert {(s.market_id, s.kind) for s in lines} == {
        ("261792797", "spread"),
        ("261792796", "total"),
    }
    got = {(s.market_id, s.selection_id, s.line, s.american) for s in lines}
    assert got == {(m, o, line, a) for m, o, _, line, a in _expected_main(raw)}
    assert [g.alternate for g in ev.groups][:2] == [False, True]  # "Alternate Lines", by name
