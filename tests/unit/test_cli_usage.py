"""Bad input: one line on stderr naming the flag or path, exit code 2, no traceback.

`main()` runs in-process: a usage error is argparse's `parser.error` (SystemExit(2) after one line
on stderr), raised before logging, signal handlers or any network. A case that regresses into a
real run still reaches nothing: the browser and every endpoint point at nothing, log records count
as stderr lines (they are, in a real process), and whatever main() changed in the process's logging
or signal handling is put back after each test.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from snuper.cli import main
from snuper.config import BROWSER_VAR, endpoint_var
from snuper.providers import PROVIDERS
from tests.factories import snapshot


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # "{tmp}": an empty folder, "{file}": a plain file
    named: str  # the flag the error line names
    says: str | None = None  # ... and what it says about it
    not_says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    code: int
    stderr: str  # what a real process would have printed there: stderr, then log lines

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


CASES = [
    Case(("-t", "scrape", "-p", "caesars", "-o", "{tmp}"), "-p/--provider"),
    Case(("-t", "scrape", "-l", "nhl", "-o", "{tmp}"), "-l/--league"),
    Case(("-t", "scrape", "-l", ",", "-o", "{tmp}"), "-l/--league"),
    Case(("-t", "scrape", "-p", "draftkings"), "-o/--fs-sink-dir"),
    Case(("-t", "monitor", "-i", "0", "-o", "{tmp}"), "-i/--interval"),
    Case(("-t", "monitor", "-i", "-5", "-o", "{tmp}"), "-i/--interval"),
    Case(("-t", "monitor", "-i", "nan", "-o", "{tmp}"), "-i/--interval"),
    Case(("-t", "monitor", "--heartbeat", "inf", "-o", "{tmp}"), "--heartbeat"),
    Case(("-t", "monitor", "--max-runtime", "soon", "-o", "{tmp}"), "--max-runtime"),
    Case(("-t", "dance", "-o", "{tmp}"), "-t/-task/--task"),
    Case(("-p", "draftkings", "-o", "{tmp}"), "-t/-task/--task"),
    Case(("-t", "scrape", "--sink", "rds", "-o", "{tmp}"), "--sink"),
    Case(("-t", "scrape", "-o", ""), "-o/--fs-sink-dir"),
    Case(("-t", "monitor", "-i", "0.001", "-o", "{tmp}"), "-i/--interval"),
    Case(("sim", "--port", "99999"), "--port"),
    # A monitor only reads snapshots: its folder must exist (and is not created).
    Case(
        ("-t", "monitor", "-o", "{tmp}/does-not-exist"),
        "-o/--fs-sink-dir",
        says="no such directory",
    ),
    Case(("-t", "monitor", "-o", "{file}"), "-o/--fs-sink-dir", says="not a directory"),
    # The user never typed --sink (fs is the default); the line must not send them there.
    Case(("-t", "monitor"), "-o/--fs-sink-dir", not_says=("--sink",)),
    Case(("-t", "monitor", "--slate", "20261341", "-o", "{tmp}"), "--slate", says="not a date"),
    Case(("-t", "monitor", "--slate", "tomorrow", "-o", "{tmp}"), "--slate", says="not a date"),
    Case(("-t", "scrape", "--slate", "20261201", "-o", "{tmp}"), "--slate", says="only for"),
    # The raw archive: only a monitor receives messages, and only fs or s3 can hold segments.
    Case(("-t", "scrape", "--archive", "-o", "{tmp}"), "--archive", says="only for -t monitor"),
    Case(
        ("-t", "monitor", "--archive", "--sink", "cache", "--cache-uri", "redis://127.0.0.1:9"),
        "--archive",
        says="add fs (-o DIR) or s3",
    ),
    Case(("replay", "-p", "draftkings", "-l", "nba", "-o", "{tmp}"), "--from"),
    Case(
        (
            "replay",
            "-p",
            "draftkings",
            "-l",
            "nba",
            "--from",
            "{tmp}/does-not-exist",
            "-o",
            "{tmp}/out",
        ),
        "--from",
        says="no such folder",
    ),
    Case(
        ("replay", "-p", "draftkings", "-l", "nba", "--from", "s3://No_Such", "-o", "{tmp}"),
        "--from",
        says="bucket name",
    ),
    Case(
        ("replay", "-p", "draftkings", "-l", "nba", "--from", "{tmp}", "-o", "{tmp}"),
        "-o/--fs-sink-dir",
        says="where the replay reads from",
    ),
    Case(
        (
            "replay",
            "-p",
            "draftkings",
            "-l",
            "nba",
            "--from",
            "{tmp}",
            "--speed",
            "2",
            "--max",
            "-o",
            "{tmp}/out",
        ),
        "--max",
        says="not allowed with",
    ),
    Case(
        (
            "replay",
            "-p",
            "draftkings",
            "-l",
            "nba",
            "--from",
            "{tmp}",
            "--speed",
            "0",
            "-o",
            "{tmp}/out",
        ),
        "--speed",
    ),
    Case(
        ("replay", "-p", "caesars", "-l", "nba", "--from", "{tmp}", "-o", "{tmp}/out"),
        "-p/--provider",
    ),
    # "unrecognized arguments: --shutdown-deadline 0" would name the flag too, without checking it.
    Case(
        ("-t", "monitor", "--shutdown-deadline", "0", "-o", "{tmp}"),
        "--shutdown-deadline",
        not_says=("unrecognized",),
    ),
]


@pytest.fixture(autouse=True)
def nothing_reachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A case that gets past the parser fails fast instead of reaching a real book."""
    monkeypatch.setenv(BROWSER_VAR, str(tmp_path / "no-such-chromium"))
    for provider in PROVIDERS.values():
        for name, default in provider.endpoint_defaults.items():
            scheme = default.split(":", 1)[0]
            monkeypatch.setenv(endpoint_var(provider.name, name), f"{scheme}://127.0.0.1:9")


@pytest.fixture(autouse=True)
def process_state_restored() -> Iterator[None]:
    """main() may call logging.basicConfig, quieten loggers and install signal handlers: none of
    it may reach the next test (a handler left on the root logger would write to a closed
    capture stream later on)."""
    manager = logging.Logger.manager
    before = {
        logger: (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
        for logger in [logging.getLogger(), *manager.loggerDict.values()]
        if isinstance(logger, logging.Logger)
    }
    signals = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in signals.items():
        signal.signal(signum, handler)
    for logger in [logging.getLogger(), *manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue
        level, handlers, propagate, disabled = before.get(logger, (logging.NOTSET, [], True, False))
        for added in [h for h in logger.handlers if h not in handlers]:
            logger.removeHandler(added)
            added.close()
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


def run_main(
    args: list[str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Outcome:
    caplog.set_level(logging.INFO)  # what main() logs at, without -v
    try:
        code: int | str | None = main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    stderr = captured.err
    if isinstance(code, str):  # sys.exit("message"): printed on stderr, exit 1
        stderr, code = f"{stderr}{code}\n", 1
    return Outcome(code or 0, stderr + caplog.text)


@pytest.mark.parametrize("case", CASES, ids=lambda case: " ".join(case.args) or "(none)")
def test_usage_errors_name_the_flag(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    case: Case,
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)).replace("{file}", str(a_file)) for a in case.args]
    run = run_main(args, capsys, caplog)
    assert run.code == 2, run.stderr
    assert len(run.lines) == 1, run.stderr
    [line] = run.lines
    assert case.named in line
    if case.says is not None:
        assert case.says in line
    for absent in case.not_says:
        assert absent not in line
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "does-not-exist").exists()  # an error creates nothing


def test_unwritable_output_folder_names_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("folders cannot live inside me")
    target = blocker / "out"
    run = run_main(["-t", "scrape", "-p", "draftkings", "-o", str(target)], capsys, caplog)
    assert run.code == 2, run.stderr
    [line] = run.lines
    assert str(target) in line
    assert "-o/--fs-sink-dir" in line
    assert "Traceback" not in run.stderr


def test_a_bad_snuper_archive_names_the_variable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SNUPER_ARCHIVE", "sometimes")
    run = run_main(["-t", "monitor", "-o", str(tmp_path)], capsys, caplog)
    assert run.code == 2, run.stderr
    [line] = run.lines
    assert "SNUPER_ARCHIVE" in line and "sometimes" in line


def test_a_bad_snuper_now_names_the_variable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SNUPER_NOW", "yesterday-ish")
    run = run_main(["-t", "scrape", "-o", str(tmp_path)], capsys, caplog)
    assert run.code == 2, run.stderr
    [line] = run.lines
    assert "SNUPER_NOW" in line and "yesterday-ish" in line


def test_a_snapshot_with_a_hostile_event_id_is_refused_and_nothing_leaves_o(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Finding 1 of issue 6, through the CLI: "../../x" as an event id must not become a path.
    out = tmp_path / "out"
    events = out / "draftkings" / "events"
    events.mkdir(parents=True)
    snap = snapshot()
    data = snap.to_dict()
    data["events"][0]["event_id"] = "../../x"
    (events / f"{snap.slate_date}-nba.json").write_bytes(orjson.dumps(data))
    run = run_main(["-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", str(out),
                    "--slate", snap.slate_date],
                   capsys, caplog)  # fmt: skip
    assert run.code == 1
    [line] = [line for line in run.lines if "nba" in line]
    assert "events[0].event_id" in line and "../../x" in line
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing beside -o
    assert not list(out.glob("draftkings/odds/*"))


# Issue 8: every sink flag, and its environment variable, is checked before any work starts.
# fmt: off
SINK_CASES = [
    Case(("--sink", "cache"), "--cache-uri", says="required by --sink cache"),
    Case(("--sink", "s3"), "--s3-bucket", says="required by --sink s3"),
    Case(("--sink", "fs,nope"), "--sink", says="unknown sink 'nope'"),
    Case(("--sink", ","), "--sink"),
    Case(("--sink", "rds", "--rds-uri", "mysql://u:secret@db/x"), "--rds-uri",
         not_says=("secret",)),
    Case(("--sink", "rds", "--rds-uri", "postgresql://u:secret@db/x", "--rds-table", "odds;drop"),
         "--rds-table", not_says=("secret",)),
    Case(("--sink", "rds", "--rds-uri", "postgresql://db/x", "--rds-table", "9lives"),
         "--rds-table"),
    Case(("--sink", "cache", "--cache-uri", "http://cache:6379"), "--cache-uri"),
    Case(("--sink", "cache", "--cache-uri", "redis://h", "--cache-ttl", "0"), "--cache-ttl"),
    Case(("--sink", "cache", "--cache-uri", "redis://h", "--cache-ttl", "soon"), "--cache-ttl"),
    Case(("--sink", "cache", "--cache-uri", "redis://h", "--cache-max-items", "-3"),
         "--cache-max-items"),
    Case(("--sink", "s3", "--s3-bucket", "Not_A_Bucket"), "--s3-bucket"),
    Case(("--sink", "s3", "--s3-bucket", "ab"), "--s3-bucket"),
    Case(("--sink", "s3", "--s3-bucket", "snuper-odds", "--s3-prefix", "a/../b"), "--s3-prefix"),
]
SINK_ENV_CASES = [
    ({"SNUPER_SINK": "postgres"}, "SNUPER_SINK"),
    ({"SNUPER_SINK": "cache", "SNUPER_CACHE_URI": "redis://h", "SNUPER_CACHE_TTL": "-1"},
     "SNUPER_CACHE_TTL"),
    ({"SNUPER_SINK": "rds", "SNUPER_RDS_URI": "postgresql://db/x", "SNUPER_RDS_TABLE": "a b"},
     "SNUPER_RDS_TABLE"),
    ({"SNUPER_SINK": "s3", "SNUPER_S3_BUCKET": "UPPER"}, "SNUPER_S3_BUCKET"),
    ({"SNUPER_SINK": "cache", "SNUPER_CACHE_URI": "memcached://h"}, "SNUPER_CACHE_URI"),
]
# fmt: on


@pytest.mark.parametrize("task", ["scrape", "monitor"])
@pytest.mark.parametrize("case", SINK_CASES, ids=lambda case: " ".join(case.args))
def test_bad_sink_flags_name_the_flag_and_write_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    case: Case,
    task: str,
) -> None:
    out = tmp_path / "out"
    run = run_main(["-t", task, *case.args, "-o", str(out)], capsys, caplog)
    assert run.code == 2, run.stderr
    [line] = run.lines
    assert f"argument {case.named}" in line
    if case.says is not None:
        assert case.says in line
    for absent in case.not_says:
        assert absent not in line
    assert not out.exists()  # nothing written, not even the folder


@pytest.mark.parametrize(("env", "named"), SINK_ENV_CASES, ids=lambda v: str(v))
def test_bad_sink_variables_name_the_variable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    named: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "out"
    run = run_main(["-t", "scrape", "-o", str(out)], capsys, caplog)
    assert run.code == 2, run.stderr
    [line] = run.lines
    assert f"environment variable {named}" in line
    assert not out.exists()


def test_read_names_a_missing_sink_flag(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    run = run_main(["read", "-p", "draftkings", "-l", "nba", "--slate", "20261201",
                    "--event", "1", "--sink", "rds"], capsys, caplog)  # fmt: skip
    assert run.code == 2
    [line] = run.lines
    assert "argument --rds-uri" in line


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SNUPER_POLL_GAP", "fast"), ("SNUPER_POLL_GAP", "-1"), ("SNUPER_POLL_CONCURRENCY", "0")],
)
def test_a_bad_politeness_variable_names_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    run = run_main(["-t", "scrape", "-o", str(tmp_path / "out")], capsys, caplog)
    assert run.code == 2, run.stderr
    [line] = run.lines
    assert f"environment variable {variable}" in line and value in line
    assert not (tmp_path / "out").exists()
