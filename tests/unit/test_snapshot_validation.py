"""Snapshot contents are checked where they enter (issue 6, finding 7): Snapshot.from_dict,
Event.from_dict and Selection.from_dict refuse each wrong value with one line naming the field's
path and the value; the fs sink reports that line with the file, and the other leagues go on."""

from __future__ import annotations

import copy
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from snuper.model import Event, Selection, Snapshot, SnapshotError
from snuper.sinks.fs import FsSink
from tests.factories import START, event, snapshot


def good() -> dict[str, Any]:
    """A valid snapshot as the fs sink stores it: NBA, one event, its six selections."""
    data: dict[str, Any] = orjson.loads(snapshot().to_json())
    return data


def test_a_stored_snapshot_reads_back() -> None:
    snap = snapshot(event("101", "500"), event("102", "501", START + timedelta(minutes=30)))
    assert Snapshot.from_json(snap.to_json()) == snap


def set_at(data: dict[str, Any], where: tuple[Any, ...], value: object) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target: Any = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return data


SEL = ("events", 0, "selections")
# factories.selections: 0 ML home, 1 ML away, 2 spread home, 3 spread away, 4 over, 5 under.
BAD: list[tuple[tuple[Any, ...], object, str]] = [
    # unknown market or side, or a side of another market
    ((*SEL, 0, "market"), "props", "events[0].selections[0].market"),
    ((*SEL, 0, "market"), None, "events[0].selections[0].market"),
    ((*SEL, 0, "side"), "draw", "events[0].selections[0].side"),
    ((*SEL, 0, "side"), "over", "events[0].selections[0].side"),
    ((*SEL, 2, "side"), "under", "events[0].selections[2].side"),
    ((*SEL, 4, "side"), "home", "events[0].selections[4].side"),
    # American odds: 0, inside (-100, 100), not an integer
    ((*SEL, 1, "odds_american"), 0, "events[0].selections[1].odds_american"),
    ((*SEL, 1, "odds_american"), 99, "events[0].selections[1].odds_american"),
    ((*SEL, 1, "odds_american"), -50, "events[0].selections[1].odds_american"),
    ((*SEL, 1, "odds_american"), "+130", "events[0].selections[1].odds_american"),
    ((*SEL, 1, "odds_american"), 130.5, "events[0].selections[1].odds_american"),
    ((*SEL, 1, "odds_american"), True, "events[0].selections[1].odds_american"),
    # decimal odds: not finite, <= 1, not a number
    ((*SEL, 3, "odds_decimal"), -1.5, "events[0].selections[3].odds_decimal"),
    ((*SEL, 3, "odds_decimal"), 1.0, "events[0].selections[3].odds_decimal"),
    ((*SEL, 3, "odds_decimal"), 0, "events[0].selections[3].odds_decimal"),
    ((*SEL, 3, "odds_decimal"), math.inf, "events[0].selections[3].odds_decimal"),
    ((*SEL, 3, "odds_decimal"), math.nan, "events[0].selections[3].odds_decimal"),
    ((*SEL, 3, "odds_decimal"), "1.91", "events[0].selections[3].odds_decimal"),
    # lines: NaN or inf, as a number or a string; a spread or total without one; a moneyline
    # with one
    ((*SEL, 2, "line"), "NaN", "events[0].selections[2].line"),
    ((*SEL, 2, "line"), math.nan, "events[0].selections[2].line"),
    ((*SEL, 4, "line"), math.inf, "events[0].selections[4].line"),
    ((*SEL, 4, "line"), -math.inf, "events[0].selections[4].line"),
    ((*SEL, 4, "line"), "221.5", "events[0].selections[4].line"),
    ((*SEL, 4, "line"), True, "events[0].selections[4].line"),
    ((*SEL, 2, "line"), None, "events[0].selections[2].line"),
    ((*SEL, 0, "line"), 0.0, "events[0].selections[0].line"),
    ((*SEL, 0, "line"), -3.5, "events[0].selections[0].line"),
    ((*SEL, 5, "label"), 5, "events[0].selections[5].label"),
    # start times without a zone, or not times
    (("events", 0, "start_time"), "2026-12-02T00:10:00", "events[0].start_time"),
    (("events", 0, "start_time"), "2026-12-02T00:10:00.000", "events[0].start_time"),
    (("events", 0, "start_time"), "2026-12-02 00:10:00", "events[0].start_time"),
    (("events", 0, "start_time"), "2026-12-02", "events[0].start_time"),
    (("events", 0, "start_time"), "tomorrow", "events[0].start_time"),
    (("events", 0, "start_time"), 1796170200, "events[0].start_time"),
    (("created_at",), "2026-12-01T15:10:00", "created_at"),
    # an event of another league or book than the snapshot's
    (("events", 0, "league"), "nfl", "events[0].league"),
    (("events", 0, "provider"), "fanduel", "events[0].provider"),
    # an event's slate date that is not its start's New York date (00:10Z is the 1st there)
    (("events", 0, "slate_date"), "20261202", "events[0].slate_date"),
    # ids that would become paths
    (("events", 0, "event_id"), "../../x", "events[0].event_id"),
    (("events", 0, "event_id"), "", "events[0].event_id"),
    (("events", 0, "event_id"), 101, "events[0].event_id"),
    (("events", 0, "slate_date"), "../../x", "events[0].slate_date"),
    (("events", 0, "league"), "../nba", "events[0].league"),
    (("events", 0, "provider"), "../x", "events[0].provider"),
    ((*SEL, 0, "selection_id"), "a/b", "events[0].selections[0].selection_id"),
    ((*SEL, 0, "market_id"), "..", "events[0].selections[0].market_id"),
    (("slate_date",), "../../x", "slate_date"),
    (("slate_date",), "20261301", "slate_date"),
    (("league",), "NBA", "league"),
    (("league",), "nhl", "league"),
    (("provider",), "Draft Kings", "provider"),
    # shapes
    (("events", 0, "meta"), ["a"], "events[0].meta"),
    (("events", 0, "selections"), {"0": 1}, "events[0].selections"),
    ((*SEL, 0), "a selection", "events[0].selections[0]"),
    (("events", 0), 7, "events[0]"),
    (("events",), None, "events"),
]


@pytest.mark.parametrize(("where", "value", "path"), BAD)
def test_each_wrong_value_is_one_line_naming_its_path_and_value(
    where: tuple[Any, ...], value: object, path: str
) -> None:
    with pytest.raises(SnapshotError) as info:
        Snapshot.from_dict(set_at(good(), where, value))
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    if not isinstance(value, dict | list):
        assert repr(value)[:20] in message or type(value).__name__ in message, message
    assert "Error(" not in message


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ((*SEL, 1, "odds_american"), -100),  # |x| >= 100 is a price
        ((*SEL, 1, "odds_american"), 100),
        ((*SEL, 1, "odds_decimal"), 2),  # an integer is a number
        ((*SEL, 2, "line"), 0),
        ((*SEL, 4, "line"), 230),
        (("events", 0, "start_time"), "2026-12-01T19:10:00-05:00"),  # an offset is a zone
        (("events", 0, "start_time"), "2026-12-02T00:10:00.1234567Z"),  # DraftKings' 7 digits
        (("events", 0, "start_time"), "2026-12-02T00:10:00+00:00"),
        (("events", 0, "meta"), None),
        (("events",), []),
    ],
)
def test_edge_values_that_are_right_are_accepted(where: tuple[Any, ...], value: object) -> None:
    Snapshot.from_dict(set_at(good(), where, value))


def test_a_string_nan_line_in_the_file_itself() -> None:
    raw = snapshot().to_json().replace(b'"line": -3.5', b'"line": "NaN"', 1)
    assert b'"NaN"' in raw
    with pytest.raises(SnapshotError, match=r"^events\[0\]\.selections\[2\]\.line: .*'NaN'$"):
        Snapshot.from_json(raw)


def test_a_missing_field_is_named_by_its_path() -> None:
    data = good()
    del data["events"][0]["selections"][3]["odds_decimal"]
    with pytest.raises(SnapshotError) as info:
        Snapshot.from_dict(data)
    assert (
        str(info.value)
        == "malformed snapshot: missing field 'events[0].selections[3].odds_decimal'"
    )
    assert isinstance(info.value.__cause__, KeyError)


def test_event_and_selection_alone_name_their_own_fields() -> None:
    data = good()["events"][0]
    with pytest.raises(SnapshotError, match=r"^event_id: .*'\.\./x'$"):
        Event.from_dict({**data, "event_id": "../x"})
    with pytest.raises(SnapshotError, match=r"^odds_american: .*got 0$"):
        Selection.from_dict({**data["selections"][0], "odds_american": 0})
    assert Event.from_dict(data) == event()


def test_a_long_value_is_truncated_in_the_message() -> None:
    with pytest.raises(SnapshotError) as info:
        Snapshot.from_dict(set_at(good(), ("events", 0, "event_id"), "../" * 10_000))
    assert len(str(info.value)) < 250


# ---------------------------------------------------------------------------------------------
# Through the fs sink: one line naming the file and the field; the other leagues go on
# ---------------------------------------------------------------------------------------------


def test_the_sink_names_the_file_and_the_field_and_loads_the_other_leagues(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    nba = snapshot()
    assert sink.save_snapshot(nba)
    folder = tmp_path / "draftkings" / "events"
    bad = set_at(good(), (*SEL, 0, "odds_american"), 0)
    bad["league"] = "nfl"
    for item in bad["events"]:
        item["league"] = "nfl"
    broken = folder / f"{nba.slate_date}-nfl.json"
    broken.write_bytes(orjson.dumps(bad))
    loaded = sink.load_snapshots("draftkings", ["nba", "nfl"])
    assert loaded.snapshots == [nba]
    assert loaded.unreadable == {
        "nfl": f"cannot read snapshot {broken}: events[0].selections[0].odds_american: "
        "expected an integer <= -100 or >= 100, got 0"
    }
