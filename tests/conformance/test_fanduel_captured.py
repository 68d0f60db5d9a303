"""The FanDuel parser against the real public capture in ../shared/fixtures/captured: an MLB
event-page with one live game, its main lines, an alternate run line and total, and props.
Expectations are computed here from the raw JSON."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from snuper.feed import Quote, frame_round
from snuper.providers.fanduel.parse import parse_page, parse_prices, to_event

CAPTURED = Path(
    os.environ.get("SNUPER_CAPTURED_DIR")
    or Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "captured"
)
EVENT_PAGE = "fanduel_event_page_mlb_2023-08.json"

pytestmark = pytest.mark.skipif(
    not CAPTURED.exists(), reason=f"captured fixtures not found at {CAPTURED}"
)
MAIN = {"MONEY_LINE": "moneyline", "MATCH_HANDICAP_(2-WAY)": "spread",
        "TOTAL_POINTS_(OVER/UNDER)": "total"}  # fmt: skip


def _load() -> Any:
    return json.loads((CAPTURED / EVENT_PAGE).read_bytes())


def test_the_event_page_reads_with_exactly_its_main_lines() -> None:
    raw = _load()
    [game] = parse_page(raw)
    [raw_event] = raw["attachments"]["events"].values()
    assert game.event_id == str(raw_event["eventId"])
    # "Los Angeles Dodgers (B Miller) @ San Diego Padres (Y Darvish)": the pitchers go.
    away, home = (re.sub(r"\s*\(.*\)$", "", t) for t in raw_event["name"].split(" @ "))
    assert (game.home, game.away) == (home, away) == ("San Diego Padres", "Los Angeles Dodgers")
    expected = set()
    for market in raw["attachments"]["markets"].values():
        kind = MAIN.get(market["marketType"])
        if kind is None:
            continue
        for r in market["runners"]:
            line = None if kind == "moneyline" else float(r["handicap"])
            american = r["winRunnerOdds"]["americanDisplayOdds"]["americanOdds"]
            expected.add((market["marketId"], kind, f"{market['marketId']}_{r['selectionId']}",
                           line, american))  # fmt: skip
    got = {(s.market_id, s.kind, s.selection_id, s.line, s.american) for s in game.lines}
    assert got == expected and len(got) == 6
    # The alternates (line only in the runner's name) and 16 other markets were read and skipped.
    assert len(raw["attachments"]["markets"]) == 19
    event = to_event(game, "mlb", "https://sportsbook.fanduel.com")
    assert event.slate_date == "20230804"  # 01:41 UTC on the 5th is the evening of the 4th


def test_the_captured_runners_read_as_a_price_answer() -> None:
    """getMarketPrices' runnerDetails share the runners' shape (inferred): the captured runners,
    answered in that form, quote every main selection at its captured price."""
    raw = _load()
    [game] = parse_page(raw)
    markets = raw["attachments"]["markets"]
    answer = [
        {"marketId": m["marketId"], "marketStatus": m["marketStatus"],
         "runnerDetails": m["runners"]}
        for m in markets.values()
    ]  # fmt: skip
    event_of = {s.market_id: game.event_id for s in game.lines}
    batch = parse_prices(frame_round([("batch=0", orjson.dumps(answer))]), event_of)
    quotes = {q.selection_id: q.odds_american for q in batch.items if isinstance(q, Quote)}
    assert quotes == {s.selection_id: s.american for s in game.lines}
    assert batch.events_listed == frozenset({game.event_id})
