"""Run-time failures of the real command: exit 1, the error in the log, no traceback.

Usage errors (exit 2, one line naming the flag) are tested in-process in
tests/unit/test_cli_usage.py; what stays here needs a real process, a real browser launch or the
log as a user sees it on stderr.
"""

from pathlib import Path

from tests.e2e.cli import snuper


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
