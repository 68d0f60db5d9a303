"""BetMGM parser on hand-written CDS payloads, both market models: pure, no network, no loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from snuper.feed import MarketStatus, ParseError, Quote, frame_round
from snuper.providers.betmgm.parse import (
    parse_fixture_view,
    parse_fixtures_page,
    parse_round,
    to_event,
)

BEARS, PACKERS = "Chicago Bears", "Green Bay Packers"


def participants() -> list[dict[str, Any]]:
    return [
        {"participantId": 11, "name": {"value": BEARS}, "properties": {"type": "AwayTeam"}},
        {"participantId": 12, "name": {"value": PACKERS}, "properties": {"type": "HomeTeam"}},
    ]


def games_fixture() -> dict[str, Any]:
    """The games[]/results[] model, comma decimals in attr, plus things to ignore."""
    return {
        "id": 14123456,
        "name": {"value": f"{BEARS} at {PACKERS}"},
        "startDate": "2026-12-07T01:20:00Z",
        "stage": "PreMatch",
        "context": "v1|en-us|14123456|all",
        "someNewField": {"x": 1},
        "participants": participants(),
        "games": [
            {"id": 501, "name": {"value": "Moneyline"}, "isMain": True,
             "templateCategory": {"id": 44},
             "results": [
                 {"id": 9001, "odds": 2.4, "americanOdds": 140, "name": {"value": BEARS}},
                 {"id": 9002, "odds": 1.6, "americanOdds": -165, "name": {"value": PACKERS}}]},
            {"id": 502, "name": {"value": "Spread"}, "isMain": True,
             "visibility": "Suspended",
             "results": [
                 {"id": 9003, "odds": 1.91, "americanOdds": -110, "name": {"value": BEARS},
                  "attr": "+3,5"},
                 {"id": 9004, "odds": 1.91, "americanOdds": -110, "name": {"value": PACKERS},
                  "attr": "-3,5"}]},
            {"id": 503, "name": {"value": "Totals"}, "isMain": True, "attr": "45,5",
             "results": [
                 {"id": 9005, "odds": 1.87, "americanOdds": -115, "name": {"value": "Over 45,5"},
                  "totalsPrefix": "Over"},
                 # no decimal odds: optional, computed from the American price
                 {"id": 9006, "americanOdds": -105, "name": {"value": "Under 45,5"},
                  "totalsPrefix": "Under"}]},
            {"id": 504, "name": {"value": "Spread"}, "isMain": False,  # alternate line
             "results": [{"id": 9007, "odds": 3.0, "americanOdds": 200,
                          "name": {"value": BEARS}, "attr": "-7,5"}]},
            {"id": 505, "name": {"value": "Anytime Touchdown Scorer"},  # unknown kind
             "results": [{"id": 9008, "odds": 3.0, "americanOdds": 200,
                          "name": {"value": "Somebody"}}]},
        ],
    }  # fmt: skip


def option_fixture() -> dict[str, Any]:
    """The optionMarkets[]/options[] model, dot decimals; no context, no stage."""
    return {
        "id": 14123999,
        "name": {"value": f"{BEARS} at {PACKERS}"},
        "startDate": "2026-12-08T01:15:00Z",
        "participants": participants(),
        "games": [],
        "optionMarkets": [
            {"id": 601, "name": {"value": "Money Line"}, "status": "Visible",
             "parameters": [{"key": "MarketType", "value": "2Way - OneWinner"}],
             "options": [
                 {"id": 7001, "name": {"value": BEARS}, "participantId": 11,
                  "price": {"odds": 2.1, "americanOdds": 110}},
                 {"id": 7002, "name": {"value": PACKERS}, "participantId": 12,
                  "price": {"odds": 1.74, "americanOdds": -135}}]},
            {"id": 602, "name": {"value": "Spread"}, "status": "Visible",
             "parameters": [{"key": "MarketType", "value": "Handicap"}],
             "options": [
                 {"id": 7003, "name": {"value": BEARS}, "participantId": 11, "attr": "+1.5",
                  "price": {"odds": 1.95, "americanOdds": -105}},
                 {"id": 7004, "name": {"value": PACKERS}, "participantId": 12, "attr": "-1.5",
                  "price": {"odds": 1.87, "americanOdds": -115}}]},
            {"id": 603, "name": {"value": "Totals"}, "status": "Visible",
             "parameters": [{"key": "MarketType", "value": "Over/Under"},
                            {"key": "DecimalValue", "value": "44.5"}],
             "options": [
                 {"id": 7005, "name": {"value": "Over 44.5"},
                  "price": {"odds": 1.91, "americanOdds": -110}},
                 {"id": 7006, "name": {"value": "Under 44.5"},
                  "price": {"odds": 1.91, "americanOdds": -110}}]},
            {"id": 604, "name": {"value": "Player Props"}, "status": "Visible",
             "parameters": [{"key": "MarketType", "value": "PlayerProps"}],
             "options": [{"id": 7007, "name": {"value": "x"}, "price": {"americanOdds": 300}}]},
        ],
    }  # fmt: skip


def rows(fixture: dict[str, Any]) -> list[tuple[Any, ...]]:
    [fx], _ = parse_fixtures_page({"fixtures": [fixture], "totalCount": 1})
    return [(s.selection_id, s.market_id, s.kind, s.side, s.label, s.line, s.american, s.decimal)
            for s in fx.lines]  # fmt: skip


def test_games_model_with_comma_decimals() -> None:
    assert rows(games_fixture()) == [
        ("9002", "501", "moneyline", "home", PACKERS, None, -165, 1.6),
        ("9001", "501", "moneyline", "away", BEARS, None, 140, 2.4),
        ("9004", "502", "spread", "home", PACKERS, -3.5, -110, 1.91),
        ("9003", "502", "spread", "away", BEARS, 3.5, -110, 1.91),
        ("9005", "503", "total", "over", "Over", 45.5, -115, 1.87),
        ("9006", "503", "total", "under", "Under", 45.5, -105, 1.9524),
    ]


def test_option_markets_model_with_dot_decimals() -> None:
    assert rows(option_fixture()) == [
        ("7002", "601", "moneyline", "home", PACKERS, None, -135, 1.74),
        ("7001", "601", "moneyline", "away", BEARS, None, 110, 2.1),
        ("7004", "602", "spread", "home", PACKERS, -1.5, -115, 1.87),
        ("7003", "602", "spread", "away", BEARS, 1.5, -105, 1.95),
        ("7005", "603", "total", "over", "Over", 44.5, -110, 1.91),
        ("7006", "603", "total", "under", "Under", 44.5, -110, 1.91),
    ]


def test_fixture_head_and_event_slate_of_a_late_game() -> None:
    [fx], total = parse_fixtures_page({"fixtures": [games_fixture()], "totalCount": 7})
    assert total == 7
    assert (fx.fixture_id, fx.home, fx.away) == ("14123456", PACKERS, BEARS)
    assert fx.start == datetime(2026, 12, 7, 1, 20, tzinfo=UTC)
    assert fx.suspended == frozenset({"502"})
    event = to_event(fx, "nfl", "https://sports.nj.betmgm.com", {"access_id": "abc"})
    # 01:20 UTC on the 7th is 20:20 in New York on the 6th: the 6th's slate.
    assert event.slate_date == "20261206"
    assert event.meta["access_id"] == "abc" and event.meta["fixture_id"] == 14123456
    assert event.meta["market_ids"] == {"moneyline": "501", "spread": "502", "total": "503"}
    assert event.meta["context"] == "v1|en-us|14123456|all"


def test_missing_optional_fields_are_fine() -> None:
    fixture = option_fixture()
    del fixture["participants"]  # teams then come from "Away at Home"
    del fixture["games"]
    for market in fixture["optionMarkets"]:
        market.pop("status")
        for option in market["options"]:
            option.pop("participantId", None)
            option["price"].pop("odds", None)
    [fx], total = parse_fixtures_page({"fixtures": [fixture]})  # no totalCount either
    assert total == 1 and (fx.home, fx.away) == (PACKERS, BEARS)
    assert len(fx.lines) == 6 and not fx.suspended
    assert parse_fixture_view({"fixture": None}) is None
    view = parse_fixture_view({"fixture": games_fixture()})
    assert view is not None and view.fixture_id == "14123456"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda f: f.pop("id"), "fixtures[0].id"),
        (lambda f: f.pop("startDate"), "fixtures[0].startDate"),
        (lambda f: f["games"][1]["results"][0].pop("americanOdds"),
         "fixtures[0].games[1].results[0].americanOdds"),
        (lambda f: f["games"][1]["results"][1].pop("attr"),
         "fixtures[0].games[1].results[1].attr"),
        (lambda f: f["games"][0].pop("results"), "fixtures[0].games[0].results"),
        (lambda f: f["games"][2]["results"][0].update(odds="lots"),
         "fixtures[0].games[2].results[0].odds"),
    ],
)  # fmt: skip
def test_a_missing_required_field_is_an_error_naming_its_path(mutate: Any, path: str) -> None:
    fixture = games_fixture()
    mutate(fixture)
    with pytest.raises(ParseError) as caught:
        parse_fixtures_page({"fixtures": [fixture], "totalCount": 1})
    assert caught.value.path == path


def test_an_option_market_missing_its_price_names_the_path() -> None:
    fixture = option_fixture()
    del fixture["optionMarkets"][1]["options"][0]["price"]
    with pytest.raises(ParseError) as caught:
        parse_fixtures_page({"fixtures": [fixture]})
    assert caught.value.path == "fixtures[0].optionMarkets[1].options[0].price"


def test_a_round_gives_quotes_statuses_and_the_fixtures_listed() -> None:
    page = orjson.dumps({"fixtures": [games_fixture(), option_fixture()], "totalCount": 2})
    batch, total = parse_round(frame_round([("skip=0", page)]))
    assert total == 2 and batch.kind == "update"
    assert batch.events_listed == frozenset({"14123456", "14123999"})
    statuses = [i for i in batch.items if isinstance(i, MarketStatus)]
    assert MarketStatus("502", True) in statuses and MarketStatus("501", False) in statuses
    quotes = {i.selection_id: i for i in batch.items if isinstance(i, Quote)}
    assert len(quotes) == 12
    assert quotes["9004"] == Quote("9004", -110, 1.91, -3.5, "502", None, PACKERS)


def test_a_round_short_of_the_total_lists_nothing() -> None:
    page = orjson.dumps({"fixtures": [games_fixture()], "totalCount": 60})
    batch, total = parse_round(frame_round([("skip=0", page)]))
    assert total == 60 and batch.events_listed is None  # page 2 unseen: nothing is over


def test_a_bad_page_in_a_round_is_named() -> None:
    good = orjson.dumps({"fixtures": [], "totalCount": 0})
    with pytest.raises(ParseError) as caught:
        parse_round(frame_round([("skip=0", good), ("skip=50", b'{"fixtures": [{"id"')]))
    assert caught.value.path == "pages[1] (skip=50)"


def test_a_doubleheader_is_two_events_with_the_same_teams() -> None:
    # MLB doubleheaders: the same two teams twice on one slate, each game with its own id.
    first, second = games_fixture(), games_fixture()
    second["id"] = 14123999
    second["startDate"] = "2026-12-06T23:05:00Z"
    fixtures, _ = parse_fixtures_page({"fixtures": [first, second], "totalCount": 2})
    events = [to_event(fx, "mlb", "https://sports.nj.betmgm.com", {}) for fx in fixtures]
    assert [e.event_id for e in events] == ["14123456", "14123999"]
    assert {(e.home, e.away) for e in events} == {(PACKERS, BEARS)}
    assert {e.slate_date for e in events} == {"20261206"}
    assert [e.meta["fixture_id"] for e in events] == [14123456, 14123999]
