"""Bad input: one line on stderr naming the flag or path, exit code 2, no traceback."""

from pathlib import Path

import pytest

from tests.e2e.cli import snuper


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-t", "scrape", "-p", "caesars", "-o", "{tmp}"], "-p/--provider"),
        (["-t", "scrape", "-l", "nhl", "-o", "{tmp}"], "-l/--league"),
        (["-t", "scrape", "-l", ",", "-o", "{tmp}"], "-l/--league"),
        (["-t", "scrape", "-p", "draftkings"], "-o/--fs-sink-dir"),
        (["-t", "monitor", "-i", "0", "-o", "{tmp}"], "-i/--interval"),
        (["-t", "monitor", "-i", "-5", "-o", "{tmp}"], "-i/--interval"),
        (["-t", "monitor", "-i", "nan", "-o", "{tmp}"], "-i/--interval"),
        (["-t", "monitor", "--heartbeat", "inf", "-o", "{tmp}"], "--heartbeat"),
        (["-t", "monitor", "--max-runtime", "soon", "-o", "{tmp}"], "--max-runtime"),
        (["-t", "dance", "-o", "{tmp}"], "-t/-task/--task"),
        (["-p", "draftkings", "-o", "{tmp}"], "-t/-task/--task"),
        (["-t", "scrape", "--sink", "rds", "-o", "{tmp}"], "--sink"),
        (["-t", "scrape", "-o", ""], "-o/--fs-sink-dir"),
        (["-t", "monitor", "-i", "0.001", "-o", "{tmp}"], "-i/--interval"),
        (["sim", "--port", "99999"], "--port"),
    ],
)
async def test_usage_errors_name_the_flag(tmp_path: Path, args: list[str], named: str) -> None:
    run = await snuper(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert named in lines[0]
    assert "Traceback" not in run.stderr


async def test_unwritable_output_folder_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("folders cannot live inside me")
    target = blocker / "out"
    run = await snuper("-t", "scrape", "-p", "draftkings", "-o", str(target))
    assert run.code == 2
    [line] = run.stderr.strip().splitlines()
    assert str(target) in line
    assert "-o/--fs-sink-dir" in line


async def test_monitor_without_a_snapshot_says_what_to_do(tmp_path: Path) -> None:
    run = await snuper("-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", str(tmp_path))
    assert run.code == 1
    assert "run `snuper -t scrape` first" in run.stderr
    assert "Traceback" not in run.stderr


async def test_a_browser_that_cannot_start_is_one_error_line(tmp_path: Path) -> None:
    run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", str(tmp_path),
                       env={"SNUPER_BROWSER_PATH": str(tmp_path / "no-such-chromium")})  # fmt: skip
    assert run.code == 1
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "no-such-chromium" in errors[0]
