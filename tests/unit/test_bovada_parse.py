"""Bovada parser on hand-written coupon payloads and socket frames: pure, no network, no loop."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from snuper.feed import MarketStatus, ParseError, Quote, Removed
from snuper.providers.bovada.parse import (
    main_lines,
    parse_coupon,
    parse_event,
    parse_frame,
    subscribe_message,
    to_event,
)

BEARS, PACKERS = "Chicago Bears", "Green Bay Packers"
START_MS = 1_796_607_600_000  # 2026-12-07T01:40:00Z: Sunday night in New York
SITE = "https://www.bovada.lv"


def price(american: str, decimal: str | None = None, handicap: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "9900", "american": american, "fractional": "1/1",
                            "malay": "1.00", "hongkong": "1.00"}  # fmt: skip
    if decimal is not None:
        body["decimal"] = decimal
    if handicap is not None:
        body["handicap"] = handicap
    return body


def outcome(oid: str, desc: str, kind: str, p: dict[str, Any]) -> dict[str, Any]:
    return {"id": oid, "description": desc, "status": "O", "type": kind, "price": p}


def market(
    mid: str, key: str, desc: str, outcomes: list[dict[str, Any]], *, period: str = "G",
    main: bool | None = True, status: str = "O",
) -> dict[str, Any]:  # fmt: skip
    per: dict[str, Any] = {"id": "119", "description": "Game", "abbreviation": period}
    if main is not None:
        per["main"] = main
    return {"id": mid, "descriptionKey": desc, "description": desc, "key": key,
            "status": status, "period": per, "outcomes": outcomes}  # fmt: skip


def event() -> dict[str, Any]:
    """Main lines with EVEN, explicit +, string decimals, an integer and a half line; and what a
    scraper must skip: a first-half period, two alternate groups (one flagged only by its
    description, as in the real capture), a prop, an unknown field."""
    game_lines = [
        market("301", "2W-12", "Moneyline", [
            outcome("4001", BEARS, "A", price("EVEN", "2.00")),
            outcome("4002", PACKERS, "H", price("-120", "1.833333"))]),
        market("302", "2W-HCAP", "Point Spread", [
            outcome("4003", BEARS, "A", price("+105", "2.05", "+3.0")),
            outcome("4004", PACKERS, "H", price("-125", "1.8", "-3"))], status="S"),
        market("303", "2W-OU", "Total", [
            outcome("4005", "Over", "O", price("+725", "8.25", "45.5")),
            outcome("4006", "Under", "U", price("-110"))]),  # no decimal: computed
        market("311", "2W-12", "Moneyline", [
            outcome("4011", BEARS, "A", price("+110")),
            outcome("4012", PACKERS, "H", price("-130"))], period="1H", main=False),
    ]  # fmt: skip
    alternates = [
        market("321", "2W-HCAP", "Point Spread", [
            outcome("4021", BEARS, "A", price("-200", None, "+1.5")),
            outcome("4022", PACKERS, "H", price("+160", None, "-1.5"))]),
    ]  # fmt: skip
    return {
        "id": "13100200",
        "description": f"{BEARS} @ {PACKERS}",
        "type": "GAMEEVENT",
        "link": "/football/nfl/chicago-bears-green-bay-packers-202612062040",
        "startTime": START_MS,
        "live": False,
        "brandNewField": {"x": 1},
        "competitors": [
            {"id": "13100200-1", "name": BEARS, "home": False},
            {"id": "13100200-2", "name": PACKERS, "home": True},
        ],
        "displayGroups": [
            {
                "id": "100-97",
                "description": "Game Lines",
                "defaultType": True,
                "alternateType": False,
                "markets": game_lines,
            },
            {
                "id": "100-98",
                "description": "Alternate Lines",
                "alternateType": True,
                "markets": alternates,
            },
            {
                "id": "100-99",
                "description": "Alternate Lines",
                "alternateType": False,
                "markets": copy.deepcopy(alternates),
            },
            {
                "id": "100-100",
                "description": "Game Props",
                "alternateType": False,
                "markets": [
                    market(
                        "331",
                        "GAME-PROP-12",
                        "Overtime?",
                        [
                            outcome("4031", "Yes", "H", price("+900")),
                            outcome("4032", "No", "A", price("-2000")),
                        ],
                    )
                ],
            },
        ],
    }


def coupon(*events: dict[str, Any]) -> list[dict[str, Any]]:
    path = [{"id": "1", "link": "/football/nfl", "description": "NFL", "type": "LEAGUE"}]
    return [{"path": path, "events": list(events)}]


def test_main_lines_are_read_and_everything_else_skipped() -> None:
    [ev] = parse_coupon(coupon(event()))
    assert (ev.event_id, ev.home, ev.away) == ("13100200", PACKERS, BEARS)
    assert ev.start == datetime(2026, 12, 7, 1, 40, tzinfo=UTC)
    lines, suspended = main_lines(ev)
    got = [(s.market_id, s.kind, s.side, s.selection_id, s.label, s.line, s.american, s.decimal)
           for s in lines]  # fmt: skip
    assert got == [
        ("301", "moneyline", "home", "4002", PACKERS, None, -120, 1.8333),
        ("301", "moneyline", "away", "4001", BEARS, None, 100, 2.0),
        ("302", "spread", "home", "4004", PACKERS, -3.0, -125, 1.8),
        ("302", "spread", "away", "4003", BEARS, 3.0, 105, 2.05),
        ("303", "total", "over", "4005", "Over", 45.5, 725, 8.25),
        ("303", "total", "under", "4006", "Under", 45.5, -110, 1.9091),
    ]
    assert suspended == {"302"}


def test_every_market_and_outcome_is_read_even_those_skipped() -> None:
    [ev] = parse_coupon(coupon(event()))
    markets = [m for g in ev.groups for m in g.markets]
    assert [m.market_id for m in markets] == ["301", "302", "303", "311", "321", "321", "331"]
    assert [g.alternate for g in ev.groups] == [False, True, True, False]
    assert sum(len(m.outcomes) for m in markets) == 14


def test_to_event_keeps_what_the_monitor_needs() -> None:
    [ev] = parse_coupon(coupon(event()))
    snap_event = to_event(ev, "nfl", SITE)
    assert snap_event.slate_date == "20261206"  # 01:40 UTC is still Sunday in New York
    assert snap_event.event_url == f"{SITE}/sports{ev.link}"
    assert snap_event.meta["market_ids"] == {"moneyline": "301", "spread": "302", "total": "303"}
    assert snap_event.meta["outcome_ids"] == ["4002", "4001", "4004", "4003", "4005", "4006"]
    assert snap_event.name == f"{BEARS} @ {PACKERS}"


def test_names_without_competitors_are_read_from_the_description() -> None:
    body = event()
    del body["competitors"]
    assert (parse_event(body).home, parse_event(body).away) == (PACKERS, BEARS)
    body["description"] = f"{PACKERS} vs {BEARS}"  # the soccer captures' order: home first
    assert (parse_event(body).home, parse_event(body).away) == (PACKERS, BEARS)


def test_a_split_line_is_the_middle_of_its_two_handicaps() -> None:
    body = event()
    body["displayGroups"][0]["markets"][1]["outcomes"][0]["price"]["handicap2"] = "3.5"
    lines, _ = main_lines(parse_event(body))
    assert [s.line for s in lines if s.selection_id == "4003"] == [3.25]


def test_a_market_of_the_game_period_without_main_is_read_by_its_abbreviation() -> None:
    body = event()
    for m in body["displayGroups"][0]["markets"]:
        del m["period"]["main"]
    lines, _ = main_lines(parse_event(body))
    assert {s.market_id for s in lines} == {"301", "302", "303"}  # 1H's 311 still skipped


@pytest.mark.parametrize(
    ("damage", "path"),
    [
        (lambda e: e.pop("id"), "[0].events[0].id"),
        (lambda e: e.pop("startTime"), "[0].events[0].startTime"),
        (lambda e: e["displayGroups"][0]["markets"][2]["outcomes"][1].pop("price"),
         "[0].events[0].displayGroups[0].markets[2].outcomes[1].price"),
        (lambda e: e["displayGroups"][0]["markets"][0]["outcomes"][0]["price"].pop("american"),
         "[0].events[0].displayGroups[0].markets[0].outcomes[0].price.american"),
        (lambda e: e["displayGroups"][0]["markets"][1]["outcomes"][0]["price"].update(
            handicap="three"),
         "[0].events[0].displayGroups[0].markets[1].outcomes[0].price.handicap"),
        (lambda e: e.update(displayGroups={"not": "a list"}), "[0].events[0].displayGroups"),
    ],
)  # fmt: skip
def test_a_missing_or_broken_required_field_is_named(damage: Any, path: str) -> None:
    body = event()
    damage(body)
    with pytest.raises(ParseError) as err:
        parse_coupon(coupon(body))
    assert err.value.path == path


def test_a_coupon_that_is_not_a_list_is_an_error_and_an_empty_one_has_no_events() -> None:
    with pytest.raises(ParseError, match="expected a list of groups"):
        parse_coupon({"redesigned": True})
    assert parse_coupon([]) == []


# -- frames ---------------------------------------------------------------------------------------


def frame(*pairs: tuple[dict[str, Any], dict[str, Any]]) -> str:
    return "|".join(orjson.dumps(part).decode() for pair in pairs for part in pair)


def test_price_and_line_segments_are_quotes() -> None:
    desc = {"eventId": "13100200", "type": "OUTCOME", "target": "4004", "parentId": "302"}
    moved = {"id": "4004", "status": "O", "price": price("-105", "1.952381", "-3.5")}
    even = {"id": "4001", "status": "O", "price": price("EVEN", "2.0")}
    batch = parse_frame(frame((desc, moved), ({**desc, "target": "4001"}, even)))
    assert batch.kind == "update"
    assert list(batch.items) == [Quote("4004", -105, 1.9524, -3.5), Quote("4001", 100, 2.0)]


def test_status_market_and_delete_segments() -> None:
    status = (
        {"eventId": "1", "type": "MARKET_STATUS", "target": "302"},
        {"id": "302", "status": "S"},
    )
    whole = ({"eventId": "1", "type": "MARKET", "target": "303"},
             market("303", "2W-OU", "Total", [
                 outcome("4005", "Over", "O", price("-115", None, "46.5")),
                 outcome("4006", "Under", "U", price("-105", None, "46.5"))]))  # fmt: skip
    gone = ({"eventId": "1", "type": "EVENT", "target": "1", "mode": "DELETE"}, {"id": "1"})
    batch = parse_frame(frame(status, whole, gone))
    assert list(batch.items) == [
        MarketStatus("302", True),
        MarketStatus("303", False),
        Quote("4005", -115, 1.8696, 46.5, "303", None, "Over"),
        Quote("4006", -105, 1.9524, 46.5, "303", None, "Under"),
        Removed("event", "1"),
    ]


def test_what_is_not_a_main_line_or_not_known_is_skipped() -> None:
    first_half = (
        {"eventId": "1", "type": "MARKET", "target": "311"},
        market(
            "311",
            "2W-12",
            "Moneyline",
            [
                outcome("4011", BEARS, "A", price("+110")),
                outcome("4012", PACKERS, "H", price("-130")),
            ],
            period="1H",
            main=False,
        ),
    )
    score = ({"eventId": "1", "type": "SCORE", "target": "1"}, {"home": 7, "away": 3})
    no_price = (
        {"eventId": "1", "type": "OUTCOME", "target": "4001"},
        {"id": "4001", "status": "S"},
    )
    assert parse_frame(frame(first_half, score, no_price)).items == ()  # fmt: skip


def test_the_heartbeat_is_traffic_not_data() -> None:
    assert parse_frame('{"id":0}').kind == "ignored"
    assert parse_frame(b'{"id": 0}').kind == "ignored"


def test_a_bar_inside_a_description_does_not_break_the_frame() -> None:
    whole = ({"eventId": "1", "type": "MARKET", "target": "301"},
             market("301", "2W-12", "Moneyline | Game", [
                 outcome("4001", BEARS, "A", price("+100")),
                 outcome("4002", PACKERS, "H", price("-120"))]))  # fmt: skip
    items = parse_frame(frame(whole)).items
    assert [i.selection_id for i in items if isinstance(i, Quote)] == ["4002", "4001"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"eventId":"1","type":"OUTCOME","target":"4"}|{"id":"4","pri', "frame[1]"),
        ('{"eventId":"1","type":"OUTCOME","target":"4"}', "frame"),
        ('{"eventId":"1","target":"4"}|{"id":"4"}', "frame[0].type"),
        (
            '{"eventId":"1","type":"OUTCOME","target":"4"}|{"id":"4","price":{"american":"x"}}',
            "frame[0]+1.price.american",
        ),
        ("not json at all", "frame[0]"),
    ],
)
def test_a_malformed_frame_is_an_error_naming_the_part(text: str, path: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_frame(text)
    assert err.value.path == path


def test_subscribe_message_names_the_event_and_the_time() -> None:
    assert subscribe_message("13100200", 1_796_610_000_123) == (
        "SUBSCRIBE|A|/events/13100200.1796610000123?delta=true"
    )


def test_a_doubleheader_is_two_events_with_the_same_teams() -> None:
    first, second = event(), event()
    second["id"] = "13100201"
    second["startTime"] = START_MS + 2 * 3600 * 1000
    events = [to_event(e, "mlb", SITE) for e in parse_coupon(coupon(first, second))]
    assert [e.event_id for e in events] == ["13100200", "13100201"]
    assert {(e.home, e.away) for e in events} == {(PACKERS, BEARS)}
    assert [e.slate_date for e in events] == ["20261206", "20261206"]  # 03:40 UTC: 22:40 on the 6th
