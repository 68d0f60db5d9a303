from snuper.feed import MarketStatus, Quote, Removed
from snuper.model import LastPrice, OddsUpdate, Price
from snuper.watch import Watchlist
from tests.factories import event, snapshot

AT = "2026-12-02T00:30:00Z"


def updates(watch: Watchlist, *items: Quote | Removed | MarketStatus) -> list[OddsUpdate | str]:
    return list(watch.apply(items, "2026-12-02T00:29:59Z", AT))


def test_price_move_yields_one_update_with_previous() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    [update] = updates(watch, Quote("0ML500_1", -160, 1.625))
    assert isinstance(update, OddsUpdate)
    assert (update.selection_id, update.market, update.side) == ("0ML500_1", "moneyline", "home")
    assert (update.line, update.odds_american, update.odds_decimal) == (None, -160, 1.625)
    assert update.previous == Price(None, -150, 1.6667)
    assert update.source_ts == "2026-12-02T00:29:59Z"
    assert update.received_at == AT
    assert update.slate_date == "20261201"


def test_same_price_again_yields_nothing() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    assert updates(watch, Quote("0ML500_1", -150, 1.6667)) == []
    assert len(updates(watch, Quote("0ML500_1", -155, 1.645))) == 1
    assert updates(watch, Quote("0ML500_1", -155, 1.645)) == []


def test_unknown_selection_is_ignored() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    assert updates(watch, Quote("0QA999_1", 400, 5.0, market_id="9_999")) == []


def test_line_move_named_by_replaced_id_follows_the_new_id() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    [update] = updates(
        watch,
        Quote(
            "0HC500N450_1", -105, 1.9524, line=-4.5, market_id="2_500", replaced_id="0HC500N350_1"
        ),
        Removed("selection", "0HC500N350_1"),
    )
    assert isinstance(update, OddsUpdate)
    assert (update.selection_id, update.line, update.odds_american) == ("0HC500N450_1", -4.5, -105)
    assert update.previous == Price(-3.5, -110, 1.9091)
    # later price moves arrive on the new id only
    assert len(updates(watch, Quote("0HC500N450_1", -115, 1.8696))) == 1
    assert updates(watch, Quote("0HC500N350_1", -125, 1.8)) == []


def test_line_move_as_delete_then_insert_is_matched_by_market_and_label() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    result = updates(
        watch,
        Removed("selection", "0OU500O22150_1"),
        Quote("0OU500O22250_1", -110, 1.9091, line=222.5, market_id="3_500", label="Over"),
    )
    assert [(u.selection_id, u.line) for u in result if isinstance(u, OddsUpdate)] == [
        ("0OU500O22250_1", 222.5)
    ]


def test_change_without_points_keeps_the_line() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    [update] = updates(watch, Quote("0HC500P350_3", -120, 1.8333))
    assert isinstance(update, OddsUpdate)
    assert update.line == 3.5


def test_event_removal_is_reported_once_per_watched_event() -> None:
    watch = Watchlist.from_snapshot(snapshot(event("101", "500"), event("102", "600")))
    assert updates(watch, Removed("event", "102"), Removed("event", "777")) == ["102"]


def test_suspension_writes_no_record_and_keeps_prices() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    assert updates(watch, MarketStatus("1_500", True)) == []
    assert updates(watch, MarketStatus("1_500", False)) == []
    assert updates(watch, Quote("0ML500_1", -150, 1.6667)) == []  # unchanged price: nothing


def test_retired_ids_are_bounded_and_a_finished_event_is_forgotten() -> None:
    watch = Watchlist.from_snapshot(snapshot(event("101", "500"), event("102", "600")))
    for step in range(500):  # 500 line moves of one total: each retires the previous id
        line = 221.5 + step + 1
        new_id = f"0OU500O{step}_1"
        quote = Quote(new_id, -110, 1.9091, line=line, market_id="3_500", label="Over")
        assert len(updates(watch, quote)) == 1
    assert len(watch.retired) <= 64
    watch.forget_event("101")
    assert all(state.event_id == "102" for state in watch.by_id.values())
    assert all(state.event_id == "102" for state in watch.by_slot.values())
    assert not watch.retired


def test_line_move_insert_before_delete_without_replaced_id() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    result = updates(
        watch,
        Quote("0OU500U22250_3", -120, 1.8333, line=222.5, market_id="3_500", label="Under"),
        Removed("selection", "0OU500U22150_3"),
    )
    assert [
        (u.selection_id, u.line, u.odds_american) for u in result if isinstance(u, OddsUpdate)
    ] == [("0OU500U22250_3", 222.5, -120)]
    assert updates(watch, Quote("0OU500U22250_3", -125, 1.8)) != []


def test_line_moved_while_disconnected_is_caught_from_initial_data() -> None:
    # After a reconnect the book resends full rows; the old id's delete was never seen.
    watch = Watchlist.from_snapshot(snapshot())
    [update] = updates(
        watch,
        Quote("0HC500N400_1", -110, 1.9091, line=-4.0, market_id="2_500", label="BOS Celtics"),
        Quote("0HC500P400_3", -110, 1.9091, line=4.0, market_id="2_500", label="NY Knicks"),
        Quote("0ML500_1", -150, 1.6667, market_id="1_500", label="BOS Celtics"),
    )[:1]
    assert isinstance(update, OddsUpdate)
    assert (update.selection_id, update.line) == ("0HC500N400_1", -4.0)
    # the stale old id no longer moves anything
    assert updates(watch, Quote("0HC500N350_1", -130, 1.7692)) == []
    assert len(updates(watch, Quote("0HC500N400_1", -130, 1.7692))) == 1


def test_a_resumed_watchlist_compares_with_what_was_recorded() -> None:
    watch = Watchlist.from_snapshot(snapshot())
    recorded = [
        LastPrice("101", "moneyline", "home", "0ML500_1", None, -170, 1.5882),
        # A line move recorded before the restart: the spread's home side has a new id.
        LastPrice("101", "spread", "home", "0HC500N450_1", -4.5, -105, 1.9524),
        LastPrice("999", "total", "over", "0OU999O1_1", 1.0, 100, 2.0),  # not watched
    ]
    assert watch.resume(recorded) == 2
    assert updates(watch, Quote("0ML500_1", -170, 1.5882)) == []  # already recorded
    [moved] = updates(watch, Quote("0HC500N450_1", -110, 1.9091, line=-4.5))
    assert isinstance(moved, OddsUpdate)
    assert moved.previous == Price(-4.5, -105, 1.9524)
    assert updates(watch, Quote("0HC500N350_1", -130, 1.7692, line=-3.5)) == []  # retired id
