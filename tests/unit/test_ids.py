"""Ids that become paths and keys (issue 6, finding 1): the one validator (snuper.ids), and the
fs sink refusing any path that would leave its root even when handed an unchecked id."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snuper.ids import (
    FULLMATCH,
    ID_FIELDS,
    MAX_ID_LENGTH,
    IdError,
    IdField,
    check_id,
    id_problem,
    is_valid_id,
)
from snuper.model import Heartbeat
from snuper.sinks.base import SinkError
from snuper.sinks.fs import FsSink

# Every shape of id in the DraftKings captures (../shared/fixtures/captured), written here by
# hand: REST and socket event ids, market ids, and the selection ids of each market kind.
CAPTURED: list[tuple[IdField, str]] = [
    ("event_id", "34787551"),
    ("event_id", "9002"),
    ("market_id", "1_80000001"),
    ("market_id", "2_86627179"),
    ("market_id", "3_86627202"),
    ("selection_id", "0ML80000001_1"),
    ("selection_id", "0ML80000001_3"),
    ("selection_id", "0HC86627179N550_1"),
    ("selection_id", "0HC86627179P550_3"),
    ("selection_id", "0OU86627202O1650_1"),
    ("selection_id", "0OU86627202U1650_3"),
    # A prop selection the format=json capture removes: "#" is admitted in selection ids only.
    ("selection_id", "0QA372230232#2294390952_13L84240Q11697086504Q20"),
    ("provider", "draftkings"),
    ("league", "nba"),
    ("league", "nfl"),
    ("league", "mlb"),
    ("slate_date", "20261201"),
    ("slate_date", "20280229"),  # a leap day
]


@pytest.mark.parametrize(("field", "value"), CAPTURED)
def test_real_ids_are_accepted(field: IdField, value: str) -> None:
    assert is_valid_id(field, value)
    assert id_problem(field, value) is None
    assert check_id(field, value) == value


def test_other_safe_shapes_are_accepted() -> None:
    for field in ("event_id", "market_id", "selection_id"):
        for value in ("a", "A-b_c.d", "x.json", "1.5", "z" * MAX_ID_LENGTH, "a.b.c"):
            assert is_valid_id(field, value), (field, value)


HOSTILE: list[tuple[IdField, object]] = [
    ("event_id", "../../x"),
    ("event_id", ".."),
    ("event_id", "."),
    ("event_id", ".hidden"),
    ("event_id", "a..b"),
    ("event_id", "a/b"),
    ("event_id", "/etc/passwd"),
    ("event_id", "a\\b"),
    ("event_id", "a\x00b"),
    ("event_id", "a\nb"),
    ("event_id", "101 "),
    ("event_id", ""),
    ("event_id", "x" * (MAX_ID_LENGTH + 1)),
    ("event_id", "\u0661\u0662"),  # Arabic-Indic digits: str.isdigit, not ASCII
    ("event_id", "caf\u00e9"),
    ("event_id", "a#b"),  # "#" only in selection ids
    ("event_id", "a:b"),
    ("event_id", "a*"),
    ("event_id", 101),
    ("event_id", None),
    ("market_id", "1_500/../.."),
    ("market_id", "~"),
    ("selection_id", "../0ML500_1"),
    ("selection_id", "0ML500_1/x"),
    ("selection_id", "#" * (MAX_ID_LENGTH + 1)),
    ("provider", "DraftKings"),
    ("provider", "draft-kings"),
    ("provider", "draftkings2"),
    ("provider", "../x"),
    ("provider", ""),
    ("provider", "a" * 33),
    ("league", "NBA"),
    ("league", "nhl"),
    ("league", "../nba"),
    ("league", "nba/"),
    ("league", ""),
    ("slate_date", "../../x"),
    ("slate_date", "2026-12-01"),
    ("slate_date", "2026120"),
    ("slate_date", "202612011"),
    ("slate_date", "20261301"),
    ("slate_date", "20270229"),  # not a leap year
    ("slate_date", "20261200"),
    ("slate_date", "\uff12\uff10\uff12\uff16\uff11\uff12\uff10\uff11"),  # full-width digits
    ("slate_date", 20261201),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_hostile_ids_are_refused_naming_field_and_value(field: IdField, value: object) -> None:
    assert not is_valid_id(field, value)
    problem = id_problem(field, value)
    assert problem is not None and "\n" not in problem
    with pytest.raises(IdError) as info:
        check_id(field, value)
    message = str(info.value)
    assert message.startswith(f"{field}: ")
    assert "\n" not in message
    assert repr(value)[:20] in message  # the value, as its repr


def test_the_error_names_the_caller_s_path_and_truncates_the_value() -> None:
    with pytest.raises(IdError) as info:
        check_id("event_id", "../" * 1000, where="events[2].event_id")
    assert info.value.where == "events[2].event_id"
    message = str(info.value)
    assert message.startswith("events[2].event_id: expected 1-128 of A-Z a-z 0-9 _ - .")
    assert message.endswith("got '" + "../" * 20 + "'...")
    assert len(message) < 200


def test_a_slate_date_that_is_no_date_says_so() -> None:
    assert id_problem("slate_date", "20261301") == "not a real date, got '20261301'"
    assert id_problem("slate_date", "x") == "expected a date as YYYYMMDD, got 'x'"
    assert id_problem("event_id", 7) == "expected a string, got int 7"


def test_every_field_has_its_matcher() -> None:
    assert set(FULLMATCH) == set(ID_FIELDS)


@given(st.text(alphabet="a0./\\#_-:~ \x00\n", max_size=12) | st.text(max_size=40))
def test_an_accepted_id_is_one_name_inside_its_folder(value: str) -> None:
    # Whatever a book sends, an accepted id joined under a folder stays that one name in it.
    for field in ID_FIELDS:
        if is_valid_id(field, value):
            joined = Path(os.path.normpath(Path("root") / value))
            assert (joined.parent, joined.name) == (Path("root"), value)
            assert not value.startswith(".") and ".." not in value
            assert "/" not in value and "\\" not in value and "\x00" not in value


# ---------------------------------------------------------------------------------------------
# The fs sink refuses a path outside its root (defence in depth: ids are checked on entry)
# ---------------------------------------------------------------------------------------------


def beat(event_id: str = "101", slate: str = "20261201", league: str = "nba") -> Heartbeat:
    return Heartbeat("draftkings", league, event_id, slate, "2026-12-02T00:31:00Z", 1, 0, 10, 60.0)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("provider", "league", "slate"),
    [
        ("draftkings", "nba", "../../../x"),
        ("draftkings", "/../../../../x", "20261201"),
        ("../..", "nba", "20261201"),
        ("/tmp", "nba", "20261201"),
    ],
)
def test_a_snapshot_path_leaving_the_root_is_refused(
    tmp_path: Path, provider: str, league: str, slate: str
) -> None:
    root = tmp_path / "out"
    root.mkdir()
    with pytest.raises(SinkError) as info:
        FsSink(root).snapshot_path(provider, league, slate)
    assert "refusing the path" in str(info.value) and "leaves the folder" in str(info.value)
    assert "\n" not in str(info.value)


def test_an_odds_path_leaving_the_root_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    sink = FsSink(root)
    # The name's prefix makes "20261201-nba-.." one harmless name: the climb needs a "/" first.
    for record in (beat(event_id="/../../../../escaped"), beat(slate="../../../x")):
        with pytest.raises(SinkError) as info:
            sink.write_updates([record])
        assert "leaves the folder" in str(info.value)
        with pytest.raises(SinkError):
            sink.odds_path(record)
    sink.close()
    assert files_under(tmp_path) == []


def test_a_nul_byte_in_an_id_is_a_sink_error(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="refusing the path"):
        FsSink(tmp_path).odds_path(beat(event_id="1\x0001"))


def test_a_symlinked_odds_folder_on_another_disk_is_the_users_choice(tmp_path: Path) -> None:
    # Only names are checked ("..", absolute parts): a folder the user linked elsewhere is used.
    root, outside = tmp_path / "out", tmp_path / "elsewhere"
    (root / "draftkings").mkdir(parents=True)
    outside.mkdir()
    (root / "draftkings" / "odds").symlink_to(outside, target_is_directory=True)
    sink = FsSink(root)
    sink.write_updates([beat()])
    sink.close()
    assert len(files_under(outside)) == 1


def test_a_refused_path_is_a_permanent_error(tmp_path: Path) -> None:
    sink = FsSink(tmp_path / "out")
    with pytest.raises(SinkError, match="leaves the folder") as refused:
        sink.snapshot_path("draftkings", "nba", "../../../x")
    assert refused.value.permanent


def test_valid_paths_still_work_and_are_checked_once_per_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    checked: list[Path] = []
    real = FsSink._inside_root

    def counting(self: FsSink, path: Path) -> Path:
        checked.append(path)
        return real(self, path)

    monkeypatch.setattr(FsSink, "_inside_root", counting)
    for _ in range(50):
        sink.write_updates([beat("101"), beat("102")])
    sink.close()
    odds = tmp_path / "draftkings" / "odds"
    assert sorted(checked) == [odds / "20261201-nba-101.json", odds / "20261201-nba-102.json"]
    assert len((odds / "20261201-nba-101.json").read_bytes().splitlines()) == 50
    path = sink.snapshot_path("draftkings", "nba", "20261201")
    assert path == tmp_path / "draftkings" / "events" / "20261201-nba.json"


def test_a_root_given_through_a_symlink_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    sink = FsSink(link)
    sink.write_updates([beat()])
    sink.close()
    assert files_under(real) == [real / "draftkings" / "odds" / "20261201-nba-101.json"]
