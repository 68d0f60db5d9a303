"""Per-event selection state and change detection: the pure half of the monitor engine.

Indexes are built once per snapshot and touched only on line moves, so each feed item costs O(1).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from snuper.feed import FeedItem, Quote, Removed
from snuper.model import Event, LastPrice, OddsUpdate, Price, Selection, Snapshot


@dataclass(slots=True)
class Watched:
    """The last known state of one watched selection. Market, side and label never change,
    so they stay on the snapshot's selection; id, line and price follow the feed."""

    event_id: str
    opening: Selection
    selection_id: str
    line: float | None
    odds_american: int
    odds_decimal: float


@dataclass(slots=True)
class Watchlist:
    provider: str
    league: str
    events: dict[str, Event]
    by_id: dict[str, Watched] = field(default_factory=dict)
    # Every watched selection by (market, label): a new id in the same slot continues it (a line
    # move), whether its old id was deleted before, after, or never (missed while disconnected).
    by_slot: dict[tuple[str, str], Watched] = field(default_factory=dict)
    # Every watched selection by (event, market, side): the one key a recorded price carries.
    by_side: dict[tuple[str, str, str], Watched] = field(default_factory=dict)
    # Ids no longer current, so a later quote naming one as replaced still finds its state;
    # oldest first, and bounded (see _retire), so a season of line moves does not pile up.
    retired: OrderedDict[str, Watched] = field(default_factory=OrderedDict)

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> Watchlist:
        watch = cls(snapshot.provider, snapshot.league, {e.event_id: e for e in snapshot.events})
        for event in snapshot.events:
            for s in event.selections:
                state = Watched(
                    event.event_id, s, s.selection_id, s.line, s.odds_american, s.odds_decimal
                )
                watch.by_id[s.selection_id] = watch.by_slot[(s.market_id, s.label)] = state
                watch.by_side[(event.event_id, s.market, s.side)] = state
        return watch

    def resume(self, recorded: Iterable[LastPrice]) -> int:
        """Start from what was already recorded (a restart) instead of the snapshot: later
        changes compare with it and name it as `previous`. Returns how many were taken."""
        taken = 0
        for last in recorded:
            state = self.by_side.get((last.event_id, last.market, last.side))
            if state is None:
                continue  # not in this snapshot (another slate's file, a market dropped)
            if last.selection_id != state.selection_id:  # a line move gave it a new id
                if self.by_id.pop(state.selection_id, None) is not None:
                    self._retire(state.selection_id, state)
                state.selection_id = last.selection_id
                self.by_id[last.selection_id] = state
            state.line, state.odds_american, state.odds_decimal = (
                last.line,
                last.odds_american,
                last.odds_decimal,
            )
            taken += 1
        return taken

    def apply(
        self,
        items: Iterable[FeedItem],
        source_ts: str | None,
        received_at: str,
        raw_ref: str | None = None,
    ) -> Iterator[OddsUpdate | str]:
        """Yield an OddsUpdate per change of line or price, and the id of each event that ended."""
        for item in items:
            if isinstance(item, Quote):
                update = self._quote(item, source_ts, received_at, raw_ref)
                if update is not None:
                    yield update
            elif isinstance(item, Removed):
                if item.kind == "selection":
                    self._orphan(item.entity_id)
                elif item.kind == "event" and item.entity_id in self.events:
                    yield item.entity_id
            # MarketStatus (suspensions) is not recorded (design.md §3): nothing to keep.

    def forget_event(self, event_id: str) -> None:
        """Drop every index entry of an event that is over."""
        indexes: tuple[dict[Any, Watched], ...] = (
            self.by_id, self.retired, self.by_slot, self.by_side
        )  # fmt: skip
        for index in indexes:
            for key in [k for k, state in index.items() if state.event_id == event_id]:
                del index[key]

    def _orphan(self, selection_id: str) -> None:
        state = self.by_id.pop(selection_id, None)
        if state is not None:
            self._retire(selection_id, state)

    def _retire(self, selection_id: str, state: Watched) -> None:
        self.retired[selection_id] = state
        # A late message names an id retired moments ago, not hundreds of line moves ago.
        while len(self.retired) > max(64, len(self.by_slot)):
            self.retired.popitem(last=False)

    def _adopt(self, quote: Quote) -> Watched | None:
        """Find the state a new selection id continues: the one it names as replaced, else the
        watched selection of the same market and label (books that do not name it)."""
        state = None
        if quote.replaced_id is not None:
            state = self.by_id.get(quote.replaced_id) or self.retired.get(quote.replaced_id)
        if state is None and quote.market_id is not None and quote.label is not None:
            state = self.by_slot.get((quote.market_id, quote.label))
        if state is None:
            return None
        # The old id stops being current; its late messages must not move the price back.
        if self.by_id.pop(state.selection_id, None) is not None:
            self._retire(state.selection_id, state)
        state.selection_id = quote.selection_id
        self.by_id[quote.selection_id] = state
        return state

    def _quote(
        self, quote: Quote, source_ts: str | None, received_at: str, raw_ref: str | None
    ) -> OddsUpdate | None:
        state = self.by_id.get(quote.selection_id) or self._adopt(quote)
        if state is None:
            return None  # not a watched selection (another market, another league)
        line = None if state.opening.market == "moneyline" else quote.line
        if line is None:
            line = state.line
        if line == state.line and quote.odds_american == state.odds_american:
            return None
        previous = Price(state.line, state.odds_american, state.odds_decimal)
        state.line, state.odds_american, state.odds_decimal = (
            line,
            quote.odds_american,
            quote.odds_decimal,
        )
        # Positional, in OddsUpdate's field order: keywords cost 3x on this hot path.
        return OddsUpdate(
            self.provider,
            self.league,
            state.event_id,
            self.events[state.event_id].slate_date,
            state.selection_id,
            state.opening.market,
            state.opening.side,
            line,
            quote.odds_american,
            quote.odds_decimal,
            previous,
            source_ts,
            received_at,
            raw_ref,
        )
