"""FanDuel parser on hand-written page and getMarketPrices payloads: pure, no network, no loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from snuper.feed import MarketStatus, ParseError, Quote, frame_round
from snuper.providers.fanduel.parse import parse_page, parse_prices, prices_request, to_event

DODGERS, PADRES = "Los Angeles Dodgers", "San Diego Padres"
ML, RL, TOT, ALT, PROP = "726.1001", "726.1002", "726.1003", "726.1004", "726.1005"


def odds(american: int, decimal: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"americanDisplayOdds": {"americanOdds": american,
                                                   "americanOddsInt": american}}  # fmt: skip
    if decimal is not None:
        body["trueOdds"] = {"decimalOdds": {"decimalOdds": decimal}}
    return body


def runner(sid: int, name: str, kind: str | None, american: int, handicap: float = 0,
           decimal: float | None = None) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"selectionId": sid, "handicap": handicap, "runnerName": name,
                            "runnerStatus": "ACTIVE",
                            "winRunnerOdds": odds(american, decimal)}  # fmt: skip
    if kind is not None:
        body["result"] = {"type": kind}
    return body


def market(
    mid: str, kind: str, runners: list[dict[str, Any]], status: str = "OPEN"
) -> dict[str, Any]:
    return {"marketId": mid, "eventId": 32530968, "marketType": kind, "marketName": kind.title(),
            "marketStatus": status, "runners": runners}  # fmt: skip


def page() -> dict[str, Any]:
    """An MLB page: pitchers in the event name, a moneyline (handicap 0), a run line, a total,
    an alternate (the line only in the runner's name), a prop, an outright, an unknown field."""
    markets = [
        market(ML, "MONEY_LINE", [runner(29171, DODGERS, "AWAY", 235, decimal=3.35),
                                  runner(29177, PADRES, "HOME", -290)]),
        market(RL, "MATCH_HANDICAP_(2-WAY)", [runner(29171, DODGERS, "AWAY", -120, 1.5),
                                              runner(29177, PADRES, "HOME", 100, -1.5)],
               status="SUSPENDED"),
        market(TOT, "TOTAL_POINTS_(OVER/UNDER)", [runner(7017905, "Over", "OVER", -110, 8),
                                                  runner(7017906, "Under", "UNDER", -110, 8)]),
        market(ALT, "ALTERNATE_RUN_LINES", [runner(7679351, f"{DODGERS} +3.5", "AWAY", -1200),
                                           runner(7679352, f"{DODGERS} +2.5", "AWAY", -600),
                                           runner(7679353, f"{PADRES} -2.5", "HOME", 400)]),
        market(PROP, "TO_HIT_A_HOME_RUN", [runner(19063462, "Juan Soto", None, 350)]),
    ]  # fmt: skip
    outright = {"eventId": 28131314, "name": "MLB 2027 World Series", "openDate":
                "2027-10-20T00:00:00.000Z", "competitionId": 11196870}  # fmt: skip
    return {
        "layout": {"tabs": {}},
        "attachments": {
            "events": {
                "32530968": {"eventId": 32530968, "competitionId": 11196870, "inPlay": False,
                             "name": f"{DODGERS} (B Miller) @ {PADRES} (Y Darvish)",
                             "openDate": "2026-08-05T01:41:00.000Z", "somethingNew": [1]},
                "28131314": outright,
            },
            "markets": {m["marketId"]: m for m in markets}
            | {"726.9": market("726.9", "OUTRIGHT_BETTING", [runner(1, "Dodgers", None, 500)])
                          | {"eventId": 28131314}},
        },
    }  # fmt: skip


def test_main_lines_are_read_and_everything_else_skipped() -> None:
    [game] = parse_page(page())
    assert (game.event_id, game.home, game.away) == ("32530968", PADRES, DODGERS)
    assert game.start == datetime(2026, 8, 5, 1, 41, tzinfo=UTC)
    got = [(s.market_id, s.kind, s.side, s.selection_id, s.label, s.line, s.american, s.decimal)
           for s in game.lines]  # fmt: skip
    assert got == [
        (ML, "moneyline", "home", f"{ML}_29177", PADRES, None, -290, 1.3448),
        (ML, "moneyline", "away", f"{ML}_29171", DODGERS, None, 235, 3.35),
        (RL, "spread", "home", f"{RL}_29177", PADRES, -1.5, 100, 2.0),
        (RL, "spread", "away", f"{RL}_29171", DODGERS, 1.5, -120, 1.8333),
        (TOT, "total", "over", f"{TOT}_7017905", "Over", 8.0, -110, 1.9091),
        (TOT, "total", "under", f"{TOT}_7017906", "Under", 8.0, -110, 1.9091),
    ]
    assert game.suspended == {RL}


def test_the_event_keeps_team_names_without_pitchers_and_what_the_monitor_needs() -> None:
    [game] = parse_page(page())
    event = to_event(game, "mlb", "https://sportsbook.fanduel.com")
    assert event.name == f"{DODGERS} @ {PADRES}"
    assert event.slate_date == "20260804"  # 21:41 in New York on the 4th
    assert event.meta["market_ids"] == {"moneyline": ML, "spread": RL, "total": TOT}
    assert event.meta["listed_as"].endswith("(Y Darvish)")


@pytest.mark.parametrize(
    ("damage", "path"),
    [
        (lambda p: p["attachments"]["events"]["32530968"].pop("openDate"),
         "attachments.events.32530968.openDate"),
        (lambda p: p["attachments"]["markets"][ML]["runners"][0].pop("winRunnerOdds"),
         f"attachments.markets.{ML}.runners[0].winRunnerOdds"),
        (lambda p: p["attachments"]["markets"][TOT]["runners"][1]["winRunnerOdds"][
            "americanDisplayOdds"].clear(),
         f"attachments.markets.{TOT}.runners[1].winRunnerOdds.americanDisplayOdds.americanOdds"),
        (lambda p: p["attachments"]["markets"][RL]["runners"][0].pop("handicap"),
         f"attachments.markets.{RL}.runners[0].handicap"),
        (lambda p: p["attachments"]["markets"][ML].pop("eventId"),
         f"attachments.markets.{ML}.eventId"),
        (lambda p: p.pop("attachments"), "payload.attachments"),
        (lambda p: p["attachments"].update(events=["v2"]), "attachments.events"),
    ],
)  # fmt: skip
def test_a_missing_or_broken_required_field_is_named(damage: Any, path: str) -> None:
    body = page()
    damage(body)
    with pytest.raises(ParseError) as err:
        parse_page(body)
    assert err.value.path == path


def test_a_page_without_events_has_no_games() -> None:
    assert parse_page({"layout": {}, "attachments": {}}) == []


# -- getMarketPrices ------------------------------------------------------------------------------


def prices(mid: str, status: str, runners: list[dict[str, Any]]) -> dict[str, Any]:
    return {"marketId": mid, "marketStatus": status, "runnerDetails": runners}


def detail(sid: int, american: int, handicap: float = 0) -> dict[str, Any]:
    return {"selectionId": sid, "runnerStatus": "ACTIVE", "handicap": handicap,
            "winRunnerOdds": odds(american)}  # fmt: skip


EVENT_OF = {ML: "32530968", RL: "32530968", TOT: "32530968", "726.2001": "32530999"}


def test_prices_are_quotes_a_suspended_market_is_tracked_and_a_line_move_keeps_the_id() -> None:
    answer = [
        prices(ML, "OPEN", [detail(29171, 240), detail(29177, -300)]),
        prices(RL, "SUSPENDED", [detail(29171, -125, 1.5), detail(29177, 105, -1.5)]),
        prices(TOT, "OPEN", [detail(7017905, -105, 8.5), detail(7017906, -115, 8.5)]),
        prices("726.7777", "OPEN", [detail(5, 100)]),  # not asked for: ignored
    ]
    batch = parse_prices(frame_round([("batch=0", orjson.dumps(answer))]), EVENT_OF)
    assert list(batch.items) == [
        MarketStatus(ML, False),
        Quote(f"{ML}_29171", 240, 3.4, 0.0),
        Quote(f"{ML}_29177", -300, 1.3333, 0.0),
        MarketStatus(RL, True),
        MarketStatus(TOT, False),
        Quote(f"{TOT}_7017905", -105, 1.9524, 8.5),
        Quote(f"{TOT}_7017906", -115, 1.8696, 8.5),
    ]
    # The second game's only market is no longer listed: that game is over.
    assert batch.events_listed == frozenset({"32530968"})


def test_every_batch_of_a_round_is_read_and_a_bad_one_is_named() -> None:
    first = orjson.dumps([prices(ML, "OPEN", [detail(29171, 240)])])
    second = orjson.dumps([prices("726.2001", "OPEN", [detail(9, -150)])])
    batch = parse_prices(frame_round([("batch=0", first), ("batch=1", second)]), EVENT_OF)
    assert batch.events_listed == frozenset({"32530968", "32530999"})
    with pytest.raises(ParseError) as err:
        parse_prices(frame_round([("batch=0", first), ("batch=1", b'[{"marketId": "7')]), EVENT_OF)
    assert err.value.path == "answers[1] (batch=1)"
    with pytest.raises(ParseError) as err:
        parse_prices(frame_round([("batch=0", b'{"markets": []}')]), EVENT_OF)
    assert "expected a list of markets" in str(err.value)


def test_prices_request_names_the_markets() -> None:
    assert orjson.loads(prices_request([ML, RL])) == {"marketIds": [ML, RL]}
