"""DraftKings parser on hand-written payloads in the documented shapes (docs/wire-formats.md)."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snuper.feed import FeedBatch, MarketStatus, ParseError, Quote, Removed
from snuper.model import Selection
from snuper.providers.draftkings import parse
from snuper.providers.draftkings.parse import (
    LEAGUES,
    FrameDecoder,
    LeagueIds,
    parse_league,
    subscribe_message,
    unsubscribe_message,
)

SITE = "https://sportsbook.draftkings.com"
SUB = "5c1f0d8e-0000-4000-8000-000000000001"
TS = msgpack.Timestamp(seconds=1791459657, nanoseconds=449014000)
TIMES = {
    "createdTime": "2026-12-01T23:10:00.100Z",
    "receivedTime": "2026-12-01T23:10:00.108Z",
    "publishedTime": "2026-12-01T23:10:00.115Z",
}


# ---------------------------------------------------------------------------------------------
# REST
# ---------------------------------------------------------------------------------------------


def nba_payload() -> dict[str, Any]:
    """Two NBA games and an NFL one, with the omissions the real endpoint makes."""
    return {
        "sports": [{"id": "2", "name": "Basketball"}],
        "leagues": [{"id": "42648", "name": "NBA"}],
        "events": [
            {
                "id": "9002",
                "seoIdentifier": "bos-celtics-%40-ny-knicks",
                "sportId": "2",
                "leagueId": "42648",
                "name": "BOS Celtics @ NY Knicks",
                "startEventDate": "2026-12-02T00:30:00.0000000Z",
                "status": "NOT_STARTED",
                "participants": [
                    {"id": "1", "name": "NY Knicks", "venueRole": "Home", "metadata": {}},
                    {"id": "2", "name": "BOS Celtics", "venueRole": "Away"},
                ],
                "tags": ["OSB", "SGP"],
                "someFutureField": {"x": 1},
            },
            {
                # No seoIdentifier and no leagueId: kept, with a slug made from the name.
                "id": "9001",
                "name": "LA Lakers @ GS Warriors",
                "startEventDate": "2026-12-02T00:30:00.1234567Z",
                "participants": [
                    {"id": "3", "name": "LA Lakers", "venueRole": "Away"},
                    {"id": "4", "name": "GS Warriors", "venueRole": "Home"},
                ],
            },
            {
                "id": "7777",
                "leagueId": "88808",
                "name": "TB Buccaneers @ DAL Cowboys",
                "startEventDate": "2026-12-01T18:00:00.0000000Z",
                "participants": [],
            },
        ],
        "markets": [
            {
                "id": "1_500",
                "eventId": "9002",
                "name": "Moneyline",
                "subcategoryId": "4511",
                "marketType": {"id": "1_0", "betOfferTypeId": 2, "name": "Moneyline"},
                "tags": ["SGP", "PrimaryMarket"],
                "componentMapping": {"primary": 210},
            },
            {
                # An alternate spread listed first: the MainPointLine one must win.
                "id": "2_499",
                "eventId": "9002",
                "name": "Alternate Spread",
                "marketType": {"id": "2_9", "betOfferTypeId": 1, "name": "Spread"},
                "tags": ["Alternate"],
            },
            {
                "id": "2_500",
                "eventId": "9002",
                "name": "Spread",
                "marketType": {"id": "2_0", "betOfferTypeId": 1, "name": "Spread"},
                "tags": ["MainPointLine"],
            },
            {
                "id": "3_500",
                "eventId": "9002",
                "name": "Total",
                "marketType": {"id": "3_0", "betOfferTypeId": 6, "name": "Total"},
            },
            {
                "id": "7_500",
                "eventId": "9002",
                "name": "Player Points",
                "marketType": {"id": "7_0", "betOfferTypeId": 3, "name": "Player Points"},
            },
            {
                "id": "1_510",
                "eventId": "9002",
                "name": "1st Half Moneyline",
                "subcategoryId": "9999",
                "marketType": {"id": "1_0", "betOfferTypeId": 2, "name": "Moneyline"},
                "tags": ["PrimaryMarket"],
            },
            # No marketType: the kind falls back to the id prefix.
            {"id": "1_600", "eventId": "9001", "name": "Moneyline"},
            {
                "id": "3_600",
                "eventId": "9001",
                "name": "Total",
                "marketType": {"betOfferTypeId": 6},
                "isSuspended": True,
            },
            {"id": "1_700", "eventId": "7777", "marketType": {"betOfferTypeId": 2}},
        ],
        "selections": [
            {
                "id": "0ML500_3",
                "marketId": "1_500",
                "label": "BOS Celtics",
                "displayOdds": {"american": "+150", "decimal": "2.50", "fractional": "3/2"},
                "trueOdds": 2.5,
                "outcomeType": "Away",
                "participants": [{"id": "2", "name": "BOS Celtics", "venueRole": "Away"}],
                "tags": ["SGP"],
            },
            {
                "id": "0ML500_1",
                "marketId": "1_500",
                "label": "NY Knicks",
                "displayOdds": {"american": "\u2212170", "decimal": "1.59"},
                "outcomeType": "Home",
            },
            {
                "id": "0HC499N550_1",
                "marketId": "2_499",
                "label": "NY Knicks",
                "displayOdds": {"american": "+120", "decimal": "2.20"},
                "points": -5.5,
                "outcomeType": "Home",
            },
            {
                "id": "0HC500P350_3",
                "marketId": "2_500",
                "label": "BOS Celtics",
                "displayOdds": {"american": "EVEN"},
                "points": 3.5,
                "outcomeType": "Away",
            },
            {
                "id": "0HC500N350_1",
                "marketId": "2_500",
                "label": "NY Knicks",
                "displayOdds": {"american": "\u2212110", "decimal": "1.91"},
                "points": -3.5,
                "outcomeType": "Home",
            },
            {
                "id": "0OU500U22150_3",
                "marketId": "3_500",
                "label": "Under",
                "displayOdds": {"american": "\u2212115", "decimal": "1.87"},
                "points": 221.5,
                "outcomeType": "Under",
            },
            {
                "id": "0OU500O22150_1",
                "marketId": "3_500",
                "label": "Over",
                "displayOdds": {"american": "\u2212105", "decimal": "1.95"},
                "points": 221.5,
                "outcomeType": "Over",
            },
            # A prop selection: skipped without being validated.
            {"id": "0QA1", "marketId": "7_500", "label": "Brunson 25+"},
            {
                "id": "0ML510_1",
                "marketId": "1_510",
                "displayOdds": {"american": "\u2212130"},
                "outcomeType": "Home",
            },
            # No outcomeType: the side is inferred from the _1/_3 suffix.
            {"id": "0ML600_1", "marketId": "1_600", "displayOdds": {"american": "+105"}},
            {
                "id": "0ML600_3",
                "marketId": "1_600",
                "label": "LA Lakers",
                "displayOdds": {"american": "\u2212125", "decimal": "1.80"},
                "outcomeType": "Away",
            },
            {
                "id": "0OU600U2300_3",
                "marketId": "3_600",
                "label": "Under",
                "displayOdds": {"american": "\u2212110", "decimal": "1.91"},
                "points": 230,
            },
            {
                "id": "0OU600O2300_1",
                "marketId": "3_600",
                "label": "Over",
                "displayOdds": {"american": "\u2212110", "decimal": "1.91"},
                "points": 230,
                "outcomeType": "Over",
            },
            {
                "id": "0ML700_1",
                "marketId": "1_700",
                "displayOdds": {"american": "\u2212400"},
                "outcomeType": "Home",
            },
        ],
        "subscriptionPartials": {"x": {}},
    }


def test_league_table() -> None:
    expected = {
        "nba": LeagueIds("42648", "4511", "basketball/nba"),
        "nfl": LeagueIds("88808", "4518", "football/nfl"),
        "mlb": LeagueIds("84240", "4519", "baseball/mlb"),
    }
    assert dict(LEAGUES) == expected


def test_parse_league_events_and_selections() -> None:
    events = parse_league(nba_payload(), "nba", site_base=SITE + "/")
    assert [e.event_id for e in events] == ["9002", "9001"]  # 00:30:00 before 00:30:00.123

    knicks, warriors = events
    assert knicks.provider == "draftkings"
    assert knicks.league == "nba"
    assert knicks.name == "BOS Celtics @ NY Knicks"
    assert (knicks.home, knicks.away) == ("NY Knicks", "BOS Celtics")
    assert knicks.start_time == datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
    assert knicks.slate_date == "20261201"  # 19:30 in New York
    assert knicks.event_url == f"{SITE}/event/bos-celtics-%40-ny-knicks/9002"
    assert knicks.meta == {
        "league_id": "42648",
        "subcategory_id": "4511",
        "market_ids": {"moneyline": "1_500", "spread": "2_500", "total": "3_500"},
    }
    assert knicks.selections == (
        Selection("0ML500_1", "1_500", "moneyline", "home", "NY Knicks", None, -170, 1.59),
        Selection("0ML500_3", "1_500", "moneyline", "away", "BOS Celtics", None, 150, 2.5),
        Selection("0HC500N350_1", "2_500", "spread", "home", "NY Knicks", -3.5, -110, 1.91),
        Selection("0HC500P350_3", "2_500", "spread", "away", "BOS Celtics", 3.5, 100, 2.0),
        Selection("0OU500O22150_1", "3_500", "total", "over", "Over", 221.5, -105, 1.95),
        Selection("0OU500U22150_3", "3_500", "total", "under", "Under", 221.5, -115, 1.87),
    )

    assert (warriors.home, warriors.away) == ("GS Warriors", "LA Lakers")
    assert warriors.start_time == datetime(2026, 12, 2, 0, 30, 0, 123456, tzinfo=UTC)
    assert warriors.event_url == f"{SITE}/event/la-lakers-%40-gs-warriors/9001"
    assert warriors.meta["market_ids"] == {"moneyline": "1_600", "total": "3_600"}
    assert warriors.selections == (
        Selection("0ML600_1", "1_600", "moneyline", "home", "", None, 105, 2.05),
        Selection("0ML600_3", "1_600", "moneyline", "away", "LA Lakers", None, -125, 1.8),
        Selection("0OU600O2300_1", "3_600", "total", "over", "Over", 230.0, -110, 1.91),
        Selection("0OU600U2300_3", "3_600", "total", "under", "Under", 230.0, -110, 1.91),
    )


def test_parse_league_round_trips_through_the_model() -> None:
    from snuper.model import Event

    for event in parse_league(nba_payload(), "nba", site_base=SITE):
        # Compared as dicts: the model writes milliseconds, the 9001 start has sub-ms digits.
        data = orjson.loads(orjson.dumps(event.to_dict()))
        assert Event.from_dict(data).to_dict() == data


def test_event_without_main_markets_is_kept_empty() -> None:
    payload = nba_payload()
    payload["markets"] = []
    events = parse_league(payload, "nba", site_base=SITE)
    assert [(e.event_id, e.selections, e.meta["market_ids"]) for e in events] == [
        ("9002", (), {}),
        ("9001", (), {}),
    ]


@pytest.mark.parametrize(
    ("points", "line"),
    [("pk", 0.0), ("PK", 0.0), ("+3.5", 3.5), ("\u22123.5", -3.5), ("3,5", 3.5), (0, 0.0)],
)
def test_spread_points_as_text(points: object, line: float) -> None:
    payload = nba_payload()
    payload["selections"][4]["points"] = points  # 0HC500N350_1
    knicks = parse_league(payload, "nba", site_base=SITE)[0]
    assert knicks.selections[2].selection_id == "0HC500N350_1"
    assert knicks.selections[2].line == line


def _set(where: tuple[Any, ...], value: object) -> dict[str, Any]:
    """nba_payload() with the value at `where` replaced."""
    payload = nba_payload()
    target: Any = payload
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return payload


def _drop(path: tuple[Any, ...]) -> dict[str, Any]:
    payload = nba_payload()
    target: Any = payload
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return payload


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("events", 0, "id"), "events[0].id"),
        (("events", 1, "startEventDate"), "events[1].startEventDate"),
        (("events", 1, "participants"), "events[1].participants"),
        (("events", 0, "participants", 0, "name"), "events[0].participants[0].name"),
        (("markets", 2, "eventId"), "markets[2].eventId"),
        (("selections", 4, "id"), "selections[4].id"),
        (("selections", 4, "marketId"), "selections[4].marketId"),
        (("selections", 4, "displayOdds"), "selections[4].displayOdds"),
        (("selections", 4, "displayOdds", "american"), "selections[4].displayOdds.american"),
        (("selections", 4, "points"), "selections[4].points"),
        (("events",), "events"),
    ],
)
def test_missing_required_field_names_its_path(path: tuple[Any, ...], expected: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_league(_drop(path), "nba", site_base=SITE)
    assert info.value.path == expected
    assert info.value.problem == "missing"


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        (("selections", 1, "displayOdds", "american"), "abc", "selections[1].displayOdds.american"),
        (("selections", 1, "displayOdds", "american"), "+50", "selections[1].displayOdds.american"),
        (("selections", 3, "points"), "three", "selections[3].points"),
        (("events", 0, "startEventDate"), "tomorrow", "events[0].startEventDate"),
        (("events", 0, "participants"), {"a": 1}, "events[0].participants"),
        (("selections", 6), "not an object", "selections[6]"),
    ],
)
def test_wrong_values_name_their_path(where: tuple[Any, ...], value: object, expected: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_league(_set(where, value), "nba", site_base=SITE)
    assert info.value.path == expected


def test_missing_outcome_type_and_uninformative_id_is_an_error() -> None:
    payload = nba_payload()
    payload["selections"][9]["id"] = "0ML600_X"  # no outcomeType, no _1/_3 suffix
    with pytest.raises(ParseError) as info:
        parse_league(payload, "nba", site_base=SITE)
    assert info.value.path == "selections[9].outcomeType"


def test_no_home_away_roles_falls_back_to_the_name() -> None:
    payload = nba_payload()
    for part in payload["events"][1]["participants"]:
        del part["venueRole"]
    warriors = parse_league(payload, "nba", site_base=SITE)[1]
    assert (warriors.home, warriors.away) == ("GS Warriors", "LA Lakers")
    payload["events"][1]["name"] = "Lakers vs Warriors"
    with pytest.raises(ParseError) as info:
        parse_league(payload, "nba", site_base=SITE)
    assert info.value.path == "events[1].participants"


def test_unknown_league_and_non_object_payload() -> None:
    with pytest.raises(ValueError, match="unknown DraftKings league"):
        parse_league(nba_payload(), "nhl", site_base=SITE)
    with pytest.raises(ParseError) as info:
        parse_league([], "nba", site_base=SITE)  # type: ignore[arg-type]
    assert info.value.path == "payload"


def test_other_league_is_not_validated() -> None:
    payload = nba_payload()
    nfl = copy.deepcopy(payload["events"][2])
    del nfl["startEventDate"]
    payload["events"][2] = nfl
    assert len(parse_league(payload, "nba", site_base=SITE)) == 2


# ---------------------------------------------------------------------------------------------
# Subscribe messages
# ---------------------------------------------------------------------------------------------


def test_subscribe_message_round_trips() -> None:
    raw = subscribe_message(SUB, league_id="88808", subcategory_id="4518", site_name="dkusnj")
    assert isinstance(raw, bytes)
    assert msgpack.unpackb(raw) == {
        "jsonrpc": "2.0",
        "method": "subscribe",
        "id": SUB,
        "params": {
            "entity": "events",
            "queryParams": {
                "query": "$filter=leagueId eq '88808' AND "
                "clientMetadata/Subcategories/any(s: s/Id eq '4518')",
                "includeMarkets": "$filter=clientMetadata/subCategoryId eq '4518' AND "
                "tags/all(t: t ne 'SportcastBetBuilder')",
                "initialData": True,
                "projection": "sportsbook",
                "locale": "en",
            },
            "forwardedHeaders": {},
            "clientMetadata": {
                "feature": "league",
                "X-Client-Name": "web",
                "X-Client-Version": "2640.4.1.8",
            },
            "jwt": "default-token",
            "siteName": "dkusnj",
        },
    }
    off = subscribe_message(
        SUB, league_id="42648", subcategory_id="4511", site_name="dkusil", initial_data=False
    )
    params = msgpack.unpackb(off)["params"]
    assert params["queryParams"]["initialData"] is False
    assert "'42648'" in params["queryParams"]["query"]
    assert params["siteName"] == "dkusil"


def test_unsubscribe_message() -> None:
    assert msgpack.unpackb(unsubscribe_message(SUB)) == {
        "jsonrpc": "2.0",
        "method": "unsubscribe",
        "id": SUB,
        "params": {},
    }


# ---------------------------------------------------------------------------------------------
# msgpack frames
# ---------------------------------------------------------------------------------------------


def pack(frame: list[Any]) -> bytes:
    packed: bytes = msgpack.packb(frame, use_bin_type=True)
    return packed


def update(sub_id: str, groups: list[Any], meta: Any = TIMES) -> bytes:
    return pack([sub_id, "update", [groups, None, meta], None, [TS, 0]])


@pytest.mark.parametrize("kind", ["subscribed", "unsubscribe"])
def test_acks(kind: str) -> None:
    assert FrameDecoder().decode(pack([SUB, kind, None, None, [TS, 0]])) == FeedBatch("ack")


@pytest.mark.parametrize("kind", ["pong", "error", None, 7])
def test_unknown_frame_kind_is_ignored(kind: object) -> None:
    frame = pack([SUB, kind, {"message": "?"}, None, [TS, 0]])
    assert FrameDecoder().decode(frame) == FeedBatch("ignored")


def test_content_cards_are_ignored() -> None:
    frame = pack(
        [
            SUB,
            "update",
            [
                None,
                [None, [], [[None, "card_34118137", None, [[None, "0QA1", "First TD"]]]], []],
            ],
            None,
            [TS, 0],
        ]
    )
    assert FrameDecoder().decode(frame) == FeedBatch("ignored")
    # A ContentCards subscription is ignored whatever its payload looks like.
    decoder = FrameDecoder()
    decoder.track(SUB, "ContentCards")
    assert decoder.decode(update(SUB, [[[], []], [[], []], [[], []]])) == FeedBatch("ignored")


def test_events_entity_price_change_with_five_insert_lists() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    frame = update(
        SUB,
        [
            [[], [], [], [], []],
            [[], [], []],
            [
                [[22, ["9002", TS, [], "STARTED"]]],
                [],
                [
                    [
                        24,
                        [
                            "0ML500_1",
                            "NY Knicks",
                            ["\u2212180", "1.56", "5/9", "64%", "64%", "1.56x"],
                            1.5555,
                            None,
                            34984244,
                            ["SGP", "OSB"],
                            None,
                        ],
                    ],
                    [
                        24,
                        [
                            "0HC500P350_3",
                            "BOS Celtics",
                            ["+102", "2.02", "51/50", "49%", "49%", "2.02x"],
                            2.02,
                            3.5,
                            -2999,
                            ["MainPointLine"],
                            None,
                        ],
                    ],
                    [24, ["0OU500O22150_1", "Over", ["EVEN"], 2.0, 221.5, 9500, [], None]],
                ],
            ],
        ],
    )
    assert decoder.decode(frame) == FeedBatch(
        "update",
        (
            Quote("0ML500_1", -180, 1.56, None, None, None, "NY Knicks"),
            Quote("0HC500P350_3", 102, 2.02, 3.5, None, None, "BOS Celtics"),
            Quote("0OU500O22150_1", 100, 2.0, 221.5, None, None, "Over"),
        ),
        "2026-12-01T23:10:00.115Z",
    )


def test_markets_entity_is_inferred_from_two_lists() -> None:
    # Never tracked: two lists per group means entity "markets" = [markets, selections].
    frame = update(
        "not-tracked",
        [
            [[], []],
            [["2_500"], ["0HC500N350_1", "0HC500P350_3"]],
            [
                [[23, ["2_500", "Spread", True]], [23, ["3_500", "Total"]]],
                [[24, ["0ML500_3", "BOS Celtics", ["+155", "2.55"], 2.55]]],
            ],
        ],
    )
    assert FrameDecoder().decode(frame).items == (
        Removed("market", "2_500"),
        Removed("selection", "0HC500N350_1"),
        Removed("selection", "0HC500P350_3"),
        MarketStatus("2_500", True),  # the second change omits isSuspended: nothing
        Quote("0ML500_3", 155, 2.55, None, None, None, "BOS Celtics"),
    )


def test_three_insert_lists_mean_events() -> None:
    frame = update("not-tracked", [[[], [], []], [["9002"], ["1_500"], ["0ML500_1"]], [[], [], []]])
    assert FrameDecoder().decode(frame).items == (
        Removed("event", "9002"),
        Removed("market", "1_500"),
        Removed("selection", "0ML500_1"),
    )


def test_line_move_inserts_the_new_selection_and_deletes_the_old() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    frame = update(
        SUB,
        [
            [
                [],
                [],
                [
                    [
                        35,
                        [
                            "0OU500O22250_1",
                            "3_500",
                            "Over",
                            ["\u2212108", "1.93", "25/27", "52%", "52%", "1.93x"],
                            1.9259,
                            222.5,
                            "Over",
                            [],
                            22250,
                            ["MainPointLine", "OSB"],
                            "0OU500O22150_1",
                            {},
                        ],
                    ]
                ],
                [],
                [],
            ],
            [[], [], ["0OU500O22150_1"]],
            [[], [], []],
        ],
    )
    assert decoder.decode(frame).items == (
        Quote("0OU500O22250_1", -108, 1.93, 222.5, "3_500", "0OU500O22150_1", "Over"),
        Removed("selection", "0OU500O22150_1"),
    )


def test_market_full_and_unknown_tags() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "markets")
    market_type = ["2_0", 1, "Spread"]
    frame = update(
        SUB,
        [
            [
                [
                    [34, ["2_500", "9002", "Spread", None, "Spread", True, 1, market_type]],
                    [34, ["3_500", "9002", "Total", None, "Total", None, 1, ["3_0", 6, "Total"]]],
                    [99, ["whatever", 1, 2]],
                    [None, "a ContentCards-like entry"],
                ],
                [
                    # Full selection without a price yet: no quote.
                    [35, ["0HC500N350_1", "2_500", "NY Knicks", None, None, -3.5, "Home"]],
                    [35, ["0HC500P350_3", "2_500", "BOS Celtics", [None, None], None, 3.5, "Away"]],
                    [35, ["0ML500_3", "1_500", "BOS Celtics", ["+150"]]],
                    [77, []],
                ],
            ],
            [[], []],
            [[], [[24, ["0ML500_1", "NY Knicks", None, None, None, 1, [], None]]]],
        ],
    )
    assert decoder.decode(frame).items == (
        MarketStatus("2_500", True),
        Quote("0ML500_3", 150, 2.5, None, "1_500", None, "BOS Celtics"),
    )


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (TIMES, "2026-12-01T23:10:00.115Z"),
        ({"createdTime": "2026-12-01T23:10:00.100Z"}, "2026-12-01T23:10:00.100Z"),
        ({}, None),
        (None, None),
        # Always ISO UTC with milliseconds, whatever the form; unreadable falls through.
        ({"publishedTime": "2026-12-01T18:10:00.1156789-05:00"}, "2026-12-01T23:10:00.115Z"),
        ({"publishedTime": "2026-12-01T23:10:00Z"}, "2026-12-01T23:10:00.000Z"),
        ({"publishedTime": 1796166600115}, "2026-12-01T23:10:00.115Z"),
        ({"publishedTime": "1796166600.115"}, "2026-12-01T23:10:00.115Z"),
        ({"publishedTime": TS}, "2026-10-08T11:40:57.449Z"),  # unpacked as a datetime
        ({"publishedTime": "soon", "createdTime": 1796166600100}, "2026-12-01T23:10:00.100Z"),
        ({"publishedTime": float("nan"), "createdTime": "1970-01-01T00:00:00Z"}, None),
        ({"publishedTime": ["2026-12-01T23:10:00Z"]}, None),
    ],
)
def test_source_ts(meta: Any, expected: str | None) -> None:
    batch = FrameDecoder().decode(update(SUB, [[[], []], [[], []], [[], []]], meta))
    assert batch == FeedBatch("update", (), expected)


def test_untracked_after_unsubscribe_falls_back_to_inference() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "ContentCards")
    decoder.decode(pack([SUB, "unsubscribe", None, None, [TS, 0]]))
    batch = decoder.decode(update(SUB, [[[], []], [["2_500"], []], [[], []]]))
    assert batch.items == (Removed("market", "2_500"),)


GOOD_CHANGE = [24, ["0ML500_1", "NY Knicks", ["\u2212180", "1.56"], 1.56, None, 1, [], None]]


# ---------------------------------------------------------------------------------------------
# Reconnects and initial data
# ---------------------------------------------------------------------------------------------


def test_new_connection_forgets_the_previous_subscriptions() -> None:
    decoder = FrameDecoder()
    for n in range(50):  # what the monitor does on every (re)connect
        decoder.new_connection()
        decoder.track(f"sub-{n}", "events")
    assert dict(decoder.tracked) == {"sub-49": "events"}
    # A late frame of an old subscription is decoded as untracked (entity by inference) and is
    # no initial state: its first update was forgotten with it.
    stale = decoder.decode(update("sub-48", INITIAL_STATE))
    assert len(stale.items) == 4 and stale.events_listed is None
    # The current subscription still gets its initial state read.
    current = decoder.decode(update("sub-49", INITIAL_STATE))
    assert current.events_listed == frozenset({"9002", "9001", "9003"})


def test_tracked_is_read_only() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    with pytest.raises(TypeError):
        decoder.tracked[SUB] = "markets"  # type: ignore[index]


# An initial state for entity events (inserts only): two event rows (tag 22, the one event
# layout captured), markets of 9002 and of 9003 (whose event row is missing: still listed by
# its market), and priced selections.
INITIAL_STATE: list[Any] = [
    [
        [
            [22, ["9002", TS, [], "NOT_STARTED", None, None, ["OSB"], {}, 9002, None]],
            [22, ["9001", TS, [], "STARTED"]],
        ],
        [
            [34, ["1_500", "9002", "42648", "4511", "Moneyline", False, 1, ["1_0", 2, "ML"]]],
            [34, ["1_700", "9003", "42648", "4511", "Moneyline", True, 1, ["1_0", 2, "ML"]]],
        ],
        [
            [35, ["0ML500_1", "1_500", "NY Knicks", ["\u2212170", "1.59"], 1.59, None, "Home"]],
            [35, ["0ML500_3", "1_500", "BOS Celtics", ["+150", "2.50"], 2.5, None, "Away"]],
        ],
        [],
        [],
    ],
    [[], [], []],
    [[], [], []],
]
NEXT_DELTA: list[Any] = [[[], [], [], [], []], [[], [], []], [[], [], [GOOD_CHANGE]]]


def test_first_update_of_an_initial_data_subscription_lists_its_events() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    assert decoder.decode(pack([SUB, "subscribed", None, None, [TS, 0]])) == FeedBatch("ack")
    first = decoder.decode(update(SUB, INITIAL_STATE))
    assert first.events_listed == frozenset({"9002", "9001", "9003"})
    assert first.items == (
        MarketStatus("1_500", False),
        MarketStatus("1_700", True),
        Quote("0ML500_1", -170, 1.59, None, "1_500", None, "NY Knicks"),
        Quote("0ML500_3", 150, 2.5, None, "1_500", None, "BOS Celtics"),
    )
    assert first.source_ts == "2026-12-01T23:10:00.115Z"
    # Later frames are ordinary updates, even one shaped like a state.
    assert decoder.decode(update(SUB, NEXT_DELTA)).events_listed is None
    assert decoder.decode(update(SUB, INITIAL_STATE)).events_listed is None


def test_initial_state_listing_no_events_is_an_empty_set() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    empty: list[Any] = [[[], [], [], [], []], [[], [], []], [[], [], []]]
    assert decoder.decode(update(SUB, empty)) == FeedBatch(
        "update", (), "2026-12-01T23:10:00.115Z", events_listed=frozenset()
    )


def test_each_subscription_has_its_own_first_update() -> None:
    decoder = FrameDecoder()
    decoder.track("a", "events")
    decoder.track("b", "events")
    assert decoder.decode(update("a", INITIAL_STATE)).events_listed is not None
    assert decoder.decode(update("a", INITIAL_STATE)).events_listed is None
    assert decoder.decode(update("b", INITIAL_STATE)).events_listed is not None
    # Tracking an id again (a resubscribe) awaits its initial data again.
    decoder.track("a", "events")
    assert decoder.decode(update("a", INITIAL_STATE)).events_listed is not None


@pytest.mark.parametrize(
    "groups",
    [
        # A first update that deletes or changes anything is a delta: the book sent no state,
        # and reading it as one would call every other event over.
        NEXT_DELTA,
        [INITIAL_STATE[0], [["9001"], [], []], [[], [], []]],
        [INITIAL_STATE[0], [[], [], []], [[[22, ["9002", TS, [], "STARTED"]]], [], []]],
        [INITIAL_STATE[0], [[], [], [], ["9009"]], [[], [], []]],  # even in an extra list
        # An event row it cannot read: unknown, rather than a state missing that event.
        [[[[22, []]], [], [], [], []], [[], [], []], [[], [], []]],
        [[[[22, [9002]]], [], [], [], []], [[], [], []], [[], [], []]],
        [[[[22, ["9002"]], "9001"], [], [], [], []], [[], [], []], [[], [], []]],
        [[{"9002": 1}, [], [], [], []], [[], [], []], [[], [], []]],
    ],
)
def test_first_update_that_is_no_complete_state_lists_nothing(groups: list[Any]) -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    assert decoder.decode(update(SUB, groups)).events_listed is None
    assert decoder.decode(update(SUB, INITIAL_STATE)).events_listed is None  # only the first


def test_unreadable_event_rows_still_apply_the_prices() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    groups = copy.deepcopy(INITIAL_STATE)
    groups[0][0].append([22, [None]])
    batch = decoder.decode(update(SUB, groups))
    assert batch.events_listed is None and len(batch.items) == 4


@pytest.mark.parametrize(
    ("track", "expected"),
    [
        ({"initial_data": False}, None),  # initialData:false: the first update is a delta
        ({"entity": "markets"}, None),  # a markets subscription lists markets, not events
        ({"entity": "ContentCards"}, None),
        (None, None),  # never tracked
        ({}, frozenset({"9002", "9001", "9003"})),
    ],
)
def test_only_tracked_events_subscriptions_with_initial_data_list_events(
    track: dict[str, Any] | None, expected: frozenset[str] | None
) -> None:
    decoder = FrameDecoder()
    if track is not None:
        options = {"entity": "events", **track}
        decoder.track(SUB, options.pop("entity"), **options)
    groups = INITIAL_STATE
    if track == {"entity": "markets"}:
        groups = [[INITIAL_STATE[0][1], INITIAL_STATE[0][2]], [[], []], [[], []]]
    assert decoder.decode(update(SUB, groups)).events_listed == expected


@pytest.mark.parametrize("kind", ["unsubscribe", "unsubscribed"])
def test_unsubscribe_forgets_the_awaited_initial_data(kind: str) -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    decoder.decode(pack([SUB, kind, None, None, [TS, 0]]))
    assert dict(decoder.tracked) == {}
    assert decoder.decode(update(SUB, INITIAL_STATE)).events_listed is None


def test_content_cards_first_update_is_ignored_and_consumed() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "ContentCards")
    cards = pack([SUB, "update", [None, [None, [], [], []]], None, [TS, 0]])
    assert decoder.decode(cards) == FeedBatch("ignored")


def _json_update(body: dict[str, Any], tags: list[str] | None = None) -> str:
    message: dict[str, Any] = {
        "id": SUB,
        "event": "update",
        "data": {"data": body, "metadata": TIMES},
    }
    if tags is not None:
        message["context"] = {"messageTags": tags}
    return orjson.dumps(message).decode()


JSON_STATE: dict[str, Any] = {
    "add": {
        "events": [{"id": "9002", "name": "BOS Celtics @ NY Knicks"}, {"id": 9001}],
        "markets": [{"id": "1_700", "eventId": "9003", "isSuspended": False}],
        "selections": [
            {"id": "0ML700_1", "marketId": "1_700", "displayOdds": {"american": "+105"}}
        ],
        "leagues": [],
        "sports": [],
    },
    "remove": {"events": [], "markets": [], "selections": []},
    "change": {"events": [], "markets": [], "selections": []},
}


def test_json_first_update_lists_its_events() -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    first = decoder.decode(_json_update(JSON_STATE, ["entity:events", "initialdata:True"]))
    assert first.events_listed == frozenset({"9002", "9001", "9003"})
    assert first.items == (
        MarketStatus("1_700", False),
        Quote("0ML700_1", 105, 2.05, None, "1_700"),
    )
    assert decoder.decode(_json_update(JSON_STATE)).events_listed is None


@pytest.mark.parametrize(
    ("body", "tags", "expected"),
    [
        ({"add": {}}, None, frozenset()),
        ({}, None, frozenset()),
        (JSON_STATE, ["entity:events", "initialdata:False"], None),  # as the capture tags it
        ({**JSON_STATE, "remove": {"selections": ["0ML700_3"]}}, None, None),
        ({**JSON_STATE, "change": {"markets": [{"id": "1_700", "isSuspended": True}]}}, [], None),
        ({"add": {"events": [{"name": "no id"}]}}, None, None),
        ({"add": {"events": {"9002": {}}}}, None, None),
        ({"add": {"events": ["9002"]}}, None, None),
    ],
)
def test_json_first_update_that_is_no_complete_state(
    body: dict[str, Any], tags: list[str] | None, expected: frozenset[str] | None
) -> None:
    decoder = FrameDecoder()
    decoder.track(SUB, "events")
    assert decoder.decode(_json_update(body, tags)).events_listed == expected


def test_json_untracked_or_without_initial_data_lists_nothing() -> None:
    assert FrameDecoder().decode(_json_update(JSON_STATE)).events_listed is None
    decoder = FrameDecoder()
    decoder.track(SUB, "events", initial_data=False)
    assert decoder.decode(_json_update(JSON_STATE)).events_listed is None


@pytest.mark.parametrize(
    ("groups", "path"),
    [
        ([[[], [], []], [[], [], []], [[], [], ["not an entry"]]], "frame[2][0][2][2][0]"),
        ([[[], [], []], [[], [], []], [[], [], [[24, "fields"]]]], "frame[2][0][2][2][0][1]"),
        ([[[], [], []], [[], [], []], [[], [], [[24, [None, "x"]]]]], "frame[2][0][2][2][0][1][0]"),
        (
            [[[], [], []], [[], [], []], [[], [], [GOOD_CHANGE, [24, ["id", "x", ["abc"]]]]]],
            "frame[2][0][2][2][1][1][2][0]",
        ),
        (
            [[[], [], []], [[], [], []], [[], [], [[24, ["id", "x", "-110"]]]]],
            "frame[2][0][2][2][0][1][2]",
        ),
        (
            [[[], [], []], [[], [], []], [[], [], [[24, ["id", "x", ["-110"], 1.9, "x"]]]]],
            "frame[2][0][2][2][0][1][4]",
        ),
        ([[[], [], []], [[], [], [7]], [[], [], []]], "frame[2][0][1][2][0]"),
        ([[[], [], []], [[], [], "ids"], [[], [], []]], "frame[2][0][1][2]"),
        ([[[], [], []], [[], []], [[], [], []]], "frame[2][0][1]"),
        ([[[], [], []], [[], [], []]], "frame[2][0]"),
        ([[[], [], []], "deletes", [[], [], []]], "frame[2][0][1]"),
        ([[[]], [[]], [[]]], "frame[2][0][0]"),
    ],
)
def test_malformed_update_names_the_path(groups: list[Any], path: str) -> None:
    with pytest.raises(ParseError) as info:
        FrameDecoder().decode(update(SUB, groups))
    assert info.value.path == path


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xc1",  # never used in msgpack
        b"not msgpack at all",
        b"\x95\xa3abc",  # truncated array
        msgpack.packb({"sub": SUB}),
        msgpack.packb([SUB]),
        msgpack.packb("update"),
        msgpack.packb([SUB, "update"]),
        msgpack.packb([SUB, "update", "payload", None, [TS, 0]]),
        msgpack.packb([SUB, "update", [], None, [TS, 0]]),
    ],
)
def test_garbage_bytes_raise_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError) as info:
        FrameDecoder().decode(raw)
    assert info.value.path.startswith("frame")


# ---------------------------------------------------------------------------------------------
# format=json frames
# ---------------------------------------------------------------------------------------------


def test_json_subscribed_is_an_ack() -> None:
    text = '{"id": "SUB_ID", "event": "subscribed", "data": ""}'.replace("SUB_ID", SUB)
    assert FrameDecoder().decode(text) == FeedBatch("ack")


def test_json_update() -> None:
    text = """{
      "id": "SUB_ID", "event": "update",
      "data": {
        "data": {
          "add": {"events": [], "markets": [], "leagues": [], "sports": [], "selections": [
            {"id": "0OU500O22250_1", "marketId": "3_500", "label": "Over",
             "displayOdds": {"american": "\u2212108", "decimal": "1.93"}, "trueOdds": 1.9259,
             "points": 222.5, "outcomeType": "Over", "participants": [],
             "tags": ["MainPointLine"], "replacedSelectionId": "0OU500O22150_1", "metadata": {}}]},
          "remove": {"events": ["9001"], "markets": ["1_600"], "selections": ["0OU500O22150_1"]},
          "change": {
            "events": [{"id": "9002", "status": "STARTED"}],
            "markets": [{"id": "3_500", "name": "Total", "isSuspended": false},
                        {"id": "2_500", "name": "Spread"}],
            "selections": [
              {"id": "0ML500_1", "label": "NY Knicks",
               "displayOdds": {"american": "+102", "decimal": "2.02"}, "sortOrder": 1},
              {"id": "0ML500_3", "label": "BOS Celtics", "sortOrder": 2},
              {"id": "0HC500P350_3", "displayOdds": {"american": "EVEN"}, "points": "pk"}]}},
        "metadata": {"createdTime": "2026-12-01T23:10:00.100Z",
                     "publishedTime": "2026-12-01T23:10:00.115Z"}},
      "context": {"messageTags": ["entity:events"]}
    }""".replace("SUB_ID", SUB)
    assert FrameDecoder().decode(text) == FeedBatch(
        "update",
        (
            Quote("0OU500O22250_1", -108, 1.93, 222.5, "3_500", "0OU500O22150_1", "Over"),
            Removed("event", "9001"),
            Removed("market", "1_600"),
            Removed("selection", "0OU500O22150_1"),
            MarketStatus("3_500", False),
            Quote("0ML500_1", 102, 2.02, None, None, None, "NY Knicks"),
            Quote("0HC500P350_3", 100, 2.0, 0.0),
        ),
        "2026-12-01T23:10:00.115Z",
    )


def test_json_sections_may_be_missing_and_content_cards_are_ignored() -> None:
    text = '{"id": "a", "event": "update", "data": {"data": {"change": {}}}}'
    assert FrameDecoder().decode(text) == FeedBatch("update", (), None)
    decoder = FrameDecoder()
    decoder.track("cards", "ContentCards")
    cards = '{"id": "cards", "event": "update", "data": {"data": [1, 2]}}'
    assert decoder.decode(cards) == FeedBatch("ignored")
    assert decoder.decode('{"event": "heartbeat"}') == FeedBatch("ignored")


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("{not json", "frame"),
        ("[1, 2]", "frame"),
        ('{"event": "update"}', "frame.data"),
        ('{"event": "update", "data": {"data": []}}', "frame.data.data"),
        ('{"event": "update", "data": {"data": {"add": []}}}', "frame.data.data.add"),
        (
            '{"event": "update", "data": {"data": {"change": {"selections": [{"label": "x"}]}}}}',
            "frame.data.data.change.selections[0].id",
        ),
        (
            '{"event": "update", "data": {"data": {"add": {"selections": '
            '[{"id": "s", "displayOdds": {"american": "+5"}}]}}}}',
            "frame.data.data.add.selections[0].displayOdds.american",
        ),
        (
            '{"event": "update", "data": {"data": {"remove": {"markets": [1]}}}}',
            "frame.data.data.remove.markets[0]",
        ),
    ],
)
def test_json_malformed_names_the_path(text: str, path: str) -> None:
    with pytest.raises(ParseError) as info:
        FrameDecoder().decode(text)
    assert info.value.path == path


# ---------------------------------------------------------------------------------------------
# Property: nothing but ParseError ever leaves decode
# ---------------------------------------------------------------------------------------------
# decode has no catch-all: every shape is checked where it is read, so an exception other than
# ParseError is a bug and fails these. SNUPER_FUZZ_EXAMPLES raises the count for a long run.

FUZZ = settings(max_examples=int(os.environ.get("SNUPER_FUZZ_EXAMPLES", "300")), deadline=None)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=4)
    | st.sampled_from(["\u2212110", "+105", "EVEN", "pk", "1_500", "update", "subscribed"])
    | st.sampled_from([22, 23, 24, 34, 35])
    | st.sampled_from([TS, 1796166600115, "2026-12-01T23:10:00.115Z", "9002", "0ML500_1"])
)
nested = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=40,
)
# Frames in the documented shape with anything anywhere: [typeTag, fields] rows whose fields
# are scalars, odds-like arrays or nested junk, in entity lists of every length.
odds_like = st.lists(scalars, max_size=7)
shaped_rows = st.tuples(
    st.sampled_from([22, 23, 24, 34, 35]) | scalars,
    st.lists(scalars | odds_like | nested, max_size=13),
).map(list)
rows = shaped_rows | nested
entity_lists = st.lists(rows, max_size=4) | scalars
shaped_groups = st.lists(st.lists(entity_lists, max_size=6), min_size=3, max_size=4) | nested
entities = st.sampled_from(["events", "markets", "ContentCards", None])


def _decode_or_parse_error(message: bytes | str, decoder: FrameDecoder | None = None) -> None:
    try:
        batch = (decoder or FrameDecoder()).decode(message)
    except ParseError:
        return
    assert batch.kind in ("update", "ack", "ignored", "error")
    listed = batch.events_listed
    assert listed is None or all(isinstance(e, str) and e for e in listed)


def _awaiting(entity: str | None) -> FrameDecoder:
    """A decoder whose SUB subscription (if any) still awaits its initial data."""
    decoder = FrameDecoder()
    if entity is not None:
        decoder.track(SUB, entity)
    return decoder


@FUZZ
@given(st.binary(max_size=64))
def test_random_bytes_only_raise_parse_error(raw: bytes) -> None:
    _decode_or_parse_error(raw)


@FUZZ
@given(nested)
def test_random_msgpack_only_raises_parse_error(value: Any) -> None:
    _decode_or_parse_error(msgpack.packb(value))


@FUZZ
@given(st.sampled_from(["update", "subscribed", "x"]), nested, nested)
def test_random_update_frames_only_raise_parse_error(kind: str, groups: Any, meta: Any) -> None:
    _decode_or_parse_error(msgpack.packb([SUB, kind, [groups, None, meta], None, [TS, 0]]))


@FUZZ
@given(entities, shaped_groups, nested)
def test_random_shaped_updates_only_raise_parse_error(
    entity: str | None, groups: Any, meta: Any
) -> None:
    frame = msgpack.packb([SUB, "update", [groups, None, meta], None, [TS, 0]])
    _decode_or_parse_error(frame, _awaiting(entity))  # the first update: initial data
    _decode_or_parse_error(frame, _awaiting(None))


@FUZZ
@given(
    entities,
    entity_lists,
    st.lists(st.lists(shaped_rows, max_size=3), min_size=2, max_size=4),
    st.sampled_from([2, 3]),
)
def test_random_initial_states_only_raise_parse_error(
    entity: str | None, first: Any, others: list[Any], width: int
) -> None:
    """Inserts only: the frames whose event list is read for events_listed."""
    groups = [[first, *others], [[]] * width, [[]] * width]
    frame = msgpack.packb([SUB, "update", [groups, None, TIMES], None, [TS, 0]])
    _decode_or_parse_error(frame, _awaiting(entity))


# Two templates: an ordinary delta, and an initial state (inserts only) so that the reading of
# events_listed is reached too.
VALID_DELTA: list[Any] = [
    [
        [[22, ["9002", TS, [], "STARTED"]]],
        [[34, ["2_500", "9002", "Spread", None, "Spread", True, 1, ["2_0", 1, "Spread"]]]],
        [[35, ["0HC500N350_1", "2_500", "NY Knicks", ["\u2212110", "1.91"], 1.91, -3.5, "Home"]]],
        [],
        [],
    ],
    [["9001"], ["1_600"], ["0ML600_1"]],
    [
        [[22, ["9002", TS, [], "STARTED"]]],
        [[23, ["3_500", "Total", False]]],
        [[24, ["0ML500_1", "NY Knicks", ["+102", "2.02"], 2.02, None, 1, [], None]]],
    ],
]
VALID_INITIAL: list[Any] = [
    [
        [[22, ["9002", TS, [], "NOT_STARTED"]], [22, ["9001", TS, [], "NOT_STARTED"]]],
        [[34, ["1_500", "9002", "42648", "4511", "Moneyline", False, 1, ["1_0", 2, "ML"]]]],
        [[35, ["0ML500_1", "1_500", "NY Knicks", ["\u2212170", "1.59"], 1.59, None, "Home"]]],
        [],
        [],
    ],
    [[], [], []],
    [[], [], []],
]


def _paths(value: Any, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    found = [path]
    if isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(_paths(item, (*path, i)))
    return found


@FUZZ
@given(entities, st.data())
def test_valid_update_with_one_part_replaced_only_raises_parse_error(
    entity: str | None, data: st.DataObject
) -> None:
    groups = copy.deepcopy(data.draw(st.sampled_from([VALID_DELTA, VALID_INITIAL])))
    path = data.draw(st.sampled_from(_paths(groups)[1:]))
    target = groups
    for index in path[:-1]:
        target = target[index]
    if data.draw(st.booleans()):
        target[path[-1]] = data.draw(nested)
    else:
        del target[path[-1]]
    frame = msgpack.packb([SUB, "update", [groups, None, TIMES], None, [TS, 0]])
    _decode_or_parse_error(frame, _awaiting(entity))


@FUZZ
@given(nested)
def test_random_json_only_raises_parse_error(value: Any) -> None:
    body = {"id": SUB, "event": "update", "data": {"data": value}}
    _decode_or_parse_error(orjson.dumps(body, default=repr).decode())
    _decode_or_parse_error(orjson.dumps(value, default=repr).decode())


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["\u2212110", "+105", "EVEN", "pk", "9002", "3_500", "1.91"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
json_rows = (
    st.fixed_dictionaries(
        {},
        optional={
            "id": json_scalars,
            "eventId": json_scalars,
            "marketId": json_scalars,
            "label": json_scalars,
            "isSuspended": json_scalars,
            "points": json_scalars,
            "replacedSelectionId": json_scalars,
            "displayOdds": st.fixed_dictionaries(
                {}, optional={"american": json_scalars, "decimal": json_scalars}
            )
            | json_values,
        },
    )
    | json_values
)
json_sections = st.dictionaries(
    st.sampled_from(["events", "markets", "selections", "leagues"]),
    st.lists(json_rows, max_size=3) | json_values,
    max_size=4,
)
json_bodies = st.dictionaries(
    st.sampled_from(["add", "remove", "change"]), json_sections | json_values, max_size=3
) | st.fixed_dictionaries({"add": json_sections | json_values})  # an initial state


@FUZZ
@given(entities, json_bodies, json_values, st.lists(json_scalars, max_size=3))
def test_random_shaped_json_only_raises_parse_error(
    entity: str | None, body: Any, metadata: Any, tags: list[Any]
) -> None:
    message = {
        "id": SUB,
        "event": "update",
        "data": {"data": body, "metadata": metadata},
        "context": {"messageTags": tags},
    }
    _decode_or_parse_error(orjson.dumps(message).decode(), _awaiting(entity))


def test_a_bug_surfaces_instead_of_becoming_a_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No catch-all: an unexpected exception in a handler is a bug and must not be hidden."""

    def broken(fields: list[Any], g: int, pos: int, k: int) -> Quote | None:
        raise IndexError("a bug in a handler")

    monkeypatch.setitem(parse._HANDLED_TAGS, 24, broken)
    frame = update(SUB, [[[], [], []], [[], [], []], [[], [], [GOOD_CHANGE]]])
    with pytest.raises(IndexError):
        FrameDecoder().decode(frame)


def test_error_detail_is_bounded_whatever_the_error_holds() -> None:
    deep: Any = "invalid jwt"
    for _ in range(300):
        deep = [deep]
    frame = msgpack.packb([["sub", {"x": 1}], "subscribed", None, deep, [TS, 0]])
    batch = FrameDecoder().decode(frame)
    assert batch.kind == "error"
    assert batch.detail is not None and len(batch.detail) < 600
    long = msgpack.packb(["sub-1", "subscribed", None, "x" * 10_000, [TS, 0]])
    detail = FrameDecoder().decode(long).detail
    assert detail is not None and len(detail) < 300 and detail.startswith("subscribed sub-1: xx")


def test_error_frame_is_reported_not_ignored() -> None:
    frame = msgpack.packb(
        ["sub-9", "subscribed", None, {"code": 401, "message": "invalid jwt"}, [TS, 0]]
    )
    batch = FrameDecoder().decode(frame)
    assert batch.kind == "error"
    assert batch.detail is not None and "invalid jwt" in batch.detail and "sub-9" in batch.detail


# ---------------------------------------------------------------------------------------------
# Ids that become paths and keys (issue 6, finding 1): checked where they enter
# ---------------------------------------------------------------------------------------------

HOSTILE_IDS = ["../../x", "/etc/passwd", "..", ".hidden", "a b", "x" * 129, "9002\n", "a\x00"]


@pytest.mark.parametrize("bad", HOSTILE_IDS)
@pytest.mark.parametrize(
    ("where", "path"),
    [
        (("events", 0, "id"), "events[0].id"),
        (("markets", 0, "id"), "markets[0].id"),  # a kept market (the main moneyline)
        (("selections", 1, "id"), "selections[1].id"),
    ],
)
def test_rest_ids_are_checked_where_they_enter(where: tuple[Any, ...], path: str, bad: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_league(_set(where, bad), "nba", site_base=SITE)
    assert info.value.path == path
    assert repr(bad)[:20] in info.value.problem and "\n" not in str(info.value)


def test_rest_ids_of_what_is_not_kept_are_not_checked() -> None:
    payload = nba_payload()
    payload["markets"][4]["id"] = "../7_500"  # player points: not a game line
    payload["selections"][7]["id"] = "../0QA1"  # its prop selection
    payload["selections"][7]["marketId"] = "../7_500"
    payload["events"][2]["id"] = "../7777"  # the NFL game of an NBA load
    payload["markets"][-1]["eventId"] = "../7777"
    assert [e.event_id for e in parse_league(payload, "nba", site_base=SITE)] == ["9002", "9001"]


def test_rest_numeric_ids_and_the_provider() -> None:
    payload = nba_payload()
    payload["events"][0]["id"] = 9002  # an int id is read as its digits, as before
    assert parse_league(payload, "nba", site_base=SITE)[0].event_id == "9002"
    with pytest.raises(ValueError, match="provider"):
        parse_league(nba_payload(), "nba", site_base=SITE, provider="../x")


def _full_row(selection_id: str, market_id: str = "3_500", replaced: str = "0OU500O22150_1") -> Any:
    return [35, [selection_id, market_id, "Over", ["\u2212108", "1.93"], 1.93, 222.5, "Over",
                 [], 22250, [], replaced, {}]]  # fmt: skip


# A live frame skips an item whose id is bad and keeps the rest: with a league-wide subscription
# one odd prop id must not drop every watched quote of the frame. Each case puts good items next
# to the bad one, so it fails if the whole frame were dropped or the bad item kept.
_GOOD_Q = Quote("0ML500_1", -180, 1.56, None, None, None, "NY Knicks")


def _full_q(selection_id: str, replaced: str | None = "0OU500O22150_1") -> Quote:
    return Quote(selection_id, -108, 1.93, 222.5, "3_500", replaced, "Over")


@pytest.mark.parametrize("bad", HOSTILE_IDS)
@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        # a change's selection id
        (lambda b: [[[], [], []], [[], [], []], [[], [], [[24, [b, "x", ["-110"]]], GOOD_CHANGE]]],
         (_GOOD_Q,)),
        # a full row's selection id, market id, replaced id (the quote kept, without it)
        (lambda b: [[[], [], [_full_row(b), _full_row("0OU500O22250_3")]], [[], [], []],
                    [[], [], [GOOD_CHANGE]]], (_full_q("0OU500O22250_3"), _GOOD_Q)),
        (lambda b: [[[], [], [_full_row("0OU500O22250_1", market_id=b),
                              _full_row("0OU500O22250_3")]], [[], [], []],
                    [[], [], [GOOD_CHANGE]]], (_full_q("0OU500O22250_3"), _GOOD_Q)),
        (lambda b: [[[], [], [_full_row("0OU500O22250_1", replaced=b)]], [[], [], []],
                    [[], [], [GOOD_CHANGE]]], (_full_q("0OU500O22250_1", None), _GOOD_Q)),
        # deletes of an event, a market, a selection
        (lambda b: [[[], [], []], [["9002", b], [], []], [[], [], [GOOD_CHANGE]]],
         (Removed("event", "9002"), _GOOD_Q)),
        (lambda b: [[[], [], []], [[], [b, "3_500"], []], [[], [], [GOOD_CHANGE]]],
         (Removed("market", "3_500"), _GOOD_Q)),
        (lambda b: [[[], [], []], [[], [], ["0ML500_3", b]], [[], [], [GOOD_CHANGE]]],
         (Removed("selection", "0ML500_3"), _GOOD_Q)),
        # a market's suspension
        (lambda b: [[[], [], []], [[], [], []],
                    [[], [[23, [b, "Spread", True]], [23, ["2_500", "Spread", False]]],
                     [GOOD_CHANGE]]], (MarketStatus("2_500", False), _GOOD_Q)),
    ],
)  # fmt: skip
def test_a_bad_id_in_a_frame_skips_that_item_only(
    groups: Any, expected: tuple[Any, ...], bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_text(*args: object) -> str:  # a skipped item builds no error text
        raise AssertionError("id_problem called for a skipped item")

    monkeypatch.setattr(parse, "id_problem", no_text)
    decoder = FrameDecoder()
    decoder.track(SUB, "events", initial_data=False)
    batch = decoder.decode(update(SUB, groups(bad)))
    assert batch.kind == "update"
    assert batch.items == expected
    # The decoder goes on: the next frame is read as usual.
    assert decoder.decode(update(SUB, groups("0ML500_2"))).kind == "update"


def test_a_market_row_without_a_suspension_is_not_read_at_all() -> None:
    # No item comes of it, so its id is never used: nothing to refuse.
    frame = update(SUB, [[[], [], []], [[], [], []], [[], [[23, ["../x", "Spread"]]], []]])
    assert FrameDecoder().decode(frame).items == ()


_PRICED = {"id": "0ML500_3", "displayOdds": {"american": "-120"}}
_PRICED_Q = Quote("0ML500_3", -120, 1.8333)


@pytest.mark.parametrize("bad", HOSTILE_IDS)
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (lambda b: {"change": {"selections": [{"id": b, "displayOdds": {"american": "+100"}},
                                              _PRICED]}}, (_PRICED_Q,)),
        (lambda b: {"change": {"selections": [{"id": b}, _PRICED]}},  # even without a price
         (_PRICED_Q,)),
        (lambda b: {"add": {"selections": [{"id": "0ML500_1", "marketId": b,
                                            "displayOdds": {"american": "+100"}}, _PRICED]}},
         (_PRICED_Q,)),
        # a bad replacedSelectionId: the quote is kept, without it
        (lambda b: {"add": {"selections": [{"id": "0ML500_1", "replacedSelectionId": b,
                                            "displayOdds": {"american": "+100"}}, _PRICED]}},
         (Quote("0ML500_1", 100, 2.0), _PRICED_Q)),
        (lambda b: {"change": {"markets": [{"id": b, "isSuspended": True},
                                           {"id": "2_500", "isSuspended": False}],
                               "selections": [_PRICED]}},
         (MarketStatus("2_500", False), _PRICED_Q)),
        (lambda b: {"remove": {"events": ["9002", b]}, "change": {"selections": [_PRICED]}},
         (Removed("event", "9002"), _PRICED_Q)),
        (lambda b: {"remove": {"markets": [b, "3_500"]}, "change": {"selections": [_PRICED]}},
         (Removed("market", "3_500"), _PRICED_Q)),
        (lambda b: {"remove": {"selections": [b, "0ML500_1"]},
                    "change": {"selections": [_PRICED]}},
         (Removed("selection", "0ML500_1"), _PRICED_Q)),
    ],
)  # fmt: skip
def test_a_bad_id_in_a_json_frame_skips_that_item_only(
    body: Any, expected: tuple[Any, ...], bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_text(*args: object) -> str:  # a skipped item builds no error text
        raise AssertionError("id_problem called for a skipped item")

    monkeypatch.setattr(parse, "id_problem", no_text)
    batch = FrameDecoder().decode(_json_update(body(bad)))
    assert batch.kind == "update"
    assert batch.items == expected


def test_a_hash_in_a_selection_id_is_a_real_draftkings_id() -> None:
    # The captured format=json feed removes this prop selection; a market or event id with "#"
    # is still refused (skipped).
    prop = "0QA372230232#2294390952_13L84240Q11697086504Q20"
    batch = FrameDecoder().decode(_json_update({"remove": {"selections": [prop]}}))
    assert batch.items == (Removed("selection", prop),)
    frame = update(SUB, [[[], [], []], [[], [], [prop]], [[], [], []]])
    assert FrameDecoder().decode(frame).items == (Removed("selection", prop),)
    # skipped, as any bad id in a live frame, and the rest of the frame kept
    batch = FrameDecoder().decode(_json_update({"remove": {"markets": ["1#2", "1_2"]}}))
    assert batch.items == (Removed("market", "1_2"),)
