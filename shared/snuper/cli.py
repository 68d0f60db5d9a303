"""The snuper command line: `snuper -t {scrape,monitor} ...` and `snuper sim`.

It only parses flags, calls the service layer (app.py) and maps its outcomes to exit statuses:
usage errors print one line naming the flag or path and exit 2; see EXIT_* below for the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from snuper import app
from snuper.config import (
    ARCHIVE_VAR,
    DEFAULT_INTERVAL_S,
    ConfigError,
    MonitorSettings,
    Settings,
    SinkSettings,
    archive_wanted,
)
from snuper.providers import PROVIDERS, Provider
from snuper.signals import stop_on_signals
from snuper.sim.options import Faults, SimOptions
from snuper.sinks import options as sink_options
from snuper.sinks.base import SINKS, Sink, SinkConfigError, SinkError
from snuper.sinks.options import SINK_OPTIONS, SINK_VAR
from snuper.slate import LEAGUES, wall_clock

if TYPE_CHECKING:
    from snuper.archive.stores import SegmentStore

log = logging.getLogger("snuper")
MIN_CADENCE_S = 0.05

EXIT_OK = 0  # every league written (or kept: today's snapshot was already there)
EXIT_FAILED = 1  # a league failed, a feed kept failing, or a sink lost records
EXIT_USAGE = 2
EXIT_NO_GAMES = 3  # a league has no games today (nothing written for it)
EXIT_BLOCKED = 4  # the book refused us (HTTP 403/429, a bot-check page)
EXIT_UNPARSEABLE = 5  # the book answered something the parser cannot read
EXIT_LOST = 6  # monitor: a sink did not store every record by the shutdown deadline
EXIT_INTERRUPTED = 130  # scrape: SIGINT/SIGTERM came before every league was scraped
# With several leagues, the status of the worst outcome, in this order (a stop first: the run
# did not finish, whatever the leagues it reached did).
SCRAPE_EXIT: tuple[tuple[app.Status, int], ...] = (
    (app.Status.INTERRUPTED, EXIT_INTERRUPTED),
    (app.Status.FAILED, EXIT_FAILED),
    (app.Status.UNPARSEABLE, EXIT_UNPARSEABLE),
    (app.Status.BLOCKED, EXIT_BLOCKED),
    (app.Status.NO_GAMES, EXIT_NO_GAMES),
)


class UsageError(Exception):
    """Bad input from the command line; the message names the flag."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: scripts and people both read the last line first.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {value}")
    return number


def _cadence(value: str) -> float:
    """Seconds for a loop's cadence: shorter than 50 ms only burns CPU."""
    number = _positive(value)
    if number < MIN_CADENCE_S:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_CADENCE_S}, got {value}")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535, got {value}")
    return number


def _folder(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty value")
    return Path(value)


def _count(value: str) -> int:
    number = _positive(value)
    if not number.is_integer():
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value}")
    return int(number)


def _slate(value: str) -> str:
    text = value.replace("-", "")
    try:
        date.fromisoformat(f"{text[:4]}-{text[4:6]}-{text[6:]}")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYYMMDD): {value!r}") from None
    if len(text) != 8 or not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a date (YYYYMMDD): {value!r}")
    return text


def _comma_list(value: str) -> list[str]:
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma list of names, got nothing")
    return names


def build_parser() -> Parser:
    parser = Parser(
        prog="snuper",
        description="Scrape sportsbook slates into snapshots and monitor their live odds. "
        "`snuper sim --help` for the local simulators.",
    )
    parser.add_argument("-t", "-task", "--task", choices=("scrape", "monitor"), required=True)
    parser.add_argument(
        "-p",
        "--provider",
        type=_comma_list,
        default=None,
        help=f"comma list of {', '.join(PROVIDERS)} (default: all)",
    )
    parser.add_argument(
        "-l",
        "--league",
        type=_comma_list,
        default=None,
        help=f"comma list of {', '.join(LEAGUES)} (default: all)",
    )
    parser.add_argument("-o", "--fs-sink-dir", type=_folder, help="output folder of the fs sink")
    parser.add_argument(
        "-i",
        "--interval",
        type=_cadence,
        default=None,
        help="monitor cadence in seconds: heartbeat checks and sink flushes (default 1), and how "
        "often polled books are asked (default: the book's, BetMGM 1, FanDuel 5; at least 0.5)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace today's snapshot")
    add_sink_flags(parser)
    parser.add_argument(
        "--max-runtime", type=_positive, metavar="SECONDS", help="stop monitoring after this long"
    )
    parser.add_argument(
        "--heartbeat",
        type=_cadence,
        default=60.0,
        metavar="SECONDS",
        help="silence per event before a heartbeat record (default 60)",
    )
    parser.add_argument(
        "--slate",
        type=_slate,
        metavar="YYYYMMDD",
        help="monitor: the slate whose snapshot to watch (default: today's in New York)",
    )
    parser.add_argument(
        "--shutdown-deadline",
        type=_positive,
        default=20.0,
        metavar="SECONDS",
        help="after a stop, how long the sinks get to store what is queued (default 20)",
    )
    parser.add_argument(
        "--archive",
        action="store_true",
        help="monitor: also keep every message received, compressed, for `snuper replay` "
        f"(fs: <dir>/<provider>/raw/, s3: under the prefix); env {ARCHIVE_VAR}=1",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging: every request and message"
    )
    return parser


def build_replay_parser() -> Parser:
    parser = Parser(
        prog="snuper replay",
        description="Feed an archived slate (snuper -t monitor --archive) through the book's "
        "parser and the monitor engine again, into any sink; or show one archived message.",
    )
    add_one_league_flags(parser)
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="ARCHIVE",
        help="the folder the monitor wrote (its -o), or s3://bucket[/prefix]",
    )
    parser.add_argument(
        "--slate", type=_slate, metavar="YYYYMMDD", help="the slate to replay (default: newest)"
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed", type=_positive, metavar="X", help="X times the recorded pace (2: twice as fast)"
    )
    pace.add_argument(
        "--max", action="store_true", help="as fast as it goes, no waiting (the default)"
    )
    parser.add_argument(
        "--show",
        metavar="RAW_REF",
        help="print the archived message a record's raw_ref names, and what the parser reads "
        "in it, instead of replaying",
    )
    parser.add_argument("-o", "--fs-sink-dir", type=_folder, help="output folder of the fs sink")
    add_sink_flags(parser)
    parser.add_argument(
        "--shutdown-deadline",
        type=_positive,
        default=20.0,
        metavar="SECONDS",
        help="at the end, how long the sink gets to store what is queued (default 20)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def add_sink_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sink",
        metavar="NAMES",
        help=f"one of {', '.join(SINKS)} or a comma list of them (default fs; env {SINK_VAR})",
    )
    for option in SINK_OPTIONS:
        parser.add_argument(
            option.flag, dest=option.dest, metavar=option.metavar,
            help=f"{option.help}; env {option.env}",
        )  # fmt: skip


def add_one_league_flags(parser: argparse.ArgumentParser) -> None:
    """-p and -l of the commands that work on one provider's league (read, replay)."""
    parser.add_argument("-p", "--provider", required=True, choices=tuple(PROVIDERS))
    parser.add_argument("-l", "--league", required=True, choices=LEAGUES)


def build_read_parser() -> Parser:
    parser = Parser(
        prog="snuper read",
        description="Print one event's stored records (odds updates and heartbeats) in order, "
        "as JSON lines, from any sink.",
    )
    add_one_league_flags(parser)
    parser.add_argument("--slate", type=_slate, required=True, metavar="YYYYMMDD")
    parser.add_argument("--event", required=True, metavar="ID", help="the event id")
    parser.add_argument("-o", "--fs-sink-dir", type=_folder, help="folder of the fs sink")
    add_sink_flags(parser)
    return parser


def build_sim_parser() -> Parser:
    parser = Parser(
        prog="snuper sim",
        description="Serve every book's simulator on 127.0.0.1 "
        "and print the `export SNUPER_...` lines that point snuper at it.",
    )
    parser.add_argument("--port", type=_port, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--speed",
        type=_positive,
        default=60.0,
        help="scenario seconds per real second (default 60)",
    )
    parser.add_argument("--events", type=_count, default=3, help="events per league")
    parser.add_argument(
        "--slate",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="slate day of the games (default: today in New York)",
    )
    parser.add_argument(
        "--drop-after",
        type=_count,
        metavar="N",
        help="drop the first websocket after N update frames",
    )
    parser.add_argument(
        "--malformed-at",
        type=_count,
        metavar="N",
        help="send an undecodable frame before update frame N",
    )
    parser.add_argument(
        "--http-status",
        type=int,
        metavar="CODE",
        help="answer the JSON API with CODE (e.g. 403, 429, 503) ...",
    )
    parser.add_argument(
        "--http-failures",
        type=_count,
        default=1,
        metavar="N",
        help="... the first N times (default 1)",
    )
    parser.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="wait before every HTTP answer"
    )
    parser.add_argument(
        "--unreadable-api",
        action="store_true",
        help="answer the JSON API with a shape the parser does not know",
    )
    return parser


def _select(args: argparse.Namespace) -> tuple[list[Provider], list[str]]:
    if args.slate is not None and args.task != "monitor":
        raise UsageError("argument --slate: only for -t monitor (a scrape takes today's slate)")
    names = args.provider or list(PROVIDERS)
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown:
        raise UsageError(
            f"argument -p/--provider: unknown provider {unknown[0]!r} "
            f"(choose from {', '.join(PROVIDERS)})"
        )
    leagues = args.league or list(LEAGUES)
    bad = [lg for lg in leagues if lg not in LEAGUES]
    if bad:
        raise UsageError(
            f"argument -l/--league: unknown league {bad[0]!r} (choose from {', '.join(LEAGUES)})"
        )
    return [PROVIDERS[n] for n in dict.fromkeys(names)], list(dict.fromkeys(leagues))


def scrape_exit_status(outcomes: Sequence[app.ScrapeOutcome]) -> int:
    statuses = {o.status for o in outcomes}
    for status, code in SCRAPE_EXIT:
        if status in statuses:
            return code
    return EXIT_OK


async def _scrape(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    sink: Sink,
    settings: Settings,
    overwrite: bool,
    now: Callable[[], datetime],
) -> list[app.ScrapeOutcome]:
    with stop_on_signals() as stop:
        return await app.scrape(providers, leagues, sink, settings, overwrite=overwrite, now=now,
                                stop=stop)  # fmt: skip


def interrupted_line(outcomes: Sequence[app.ScrapeOutcome]) -> str:
    """One line for a stopped scrape: what is saved, what is not, and how the rest ended."""

    def names(wanted: Sequence[app.Status]) -> str:
        return ", ".join(f"{o.provider} {o.league}" for o in outcomes if o.status in wanted)

    saved = names((app.Status.WRITTEN, app.Status.KEPT)) or "nothing"
    not_scraped = ", ".join(f"{o.provider} {o.league} ({o.reason})"
                            for o in outcomes if o.status == app.Status.INTERRUPTED)  # fmt: skip
    line = f"interrupted: saved {saved}; not scraped: {not_scraped}"
    others = [
        f"{o.provider} {o.league} {o.status}"
        for o in outcomes
        if o.status not in (app.Status.WRITTEN, app.Status.KEPT, app.Status.INTERRUPTED)
    ]
    return f"{line}; also: {', '.join(others)}" if others else line


async def _monitor(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    sink: Sink,
    settings: Settings,
    now: Callable[[], datetime],
    slate: str | None,
    archive: SegmentStore | None = None,
) -> int:
    with stop_on_signals() as stop:
        run = await app.monitor(providers, leagues, sink, settings, stop, now=now, slate=slate,
                                archive=archive)  # fmt: skip
    return monitor_exit_status(run)


def _archiving(args: argparse.Namespace) -> bool:
    """--archive, or SNUPER_ARCHIVE for a monitor (a scrape receives no messages to keep)."""
    if args.archive and args.task != "monitor":
        raise UsageError("argument --archive: only for -t monitor")
    return args.task == "monitor" and (args.archive or archive_wanted())


def _archive_store(sink: Sink) -> SegmentStore:
    from snuper.archive.stores import segment_store

    store = segment_store(sink)
    if store is None:
        raise UsageError(
            f"argument --archive: the sink {sink.name} cannot hold the archive's segments; "
            "add fs (-o DIR) or s3 to --sink"
        )
    return store


def monitor_exit_status(run: app.MonitorRun) -> int:
    for result in run.results:
        if result.lost:
            log.error("%s %s: %d records lost by sink %s",
                      result.provider, result.league, result.lost, result.sink)  # fmt: skip
    if any(r.lost for r in run.results):
        return EXIT_LOST
    return EXIT_OK if run.ok else EXIT_FAILED


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("websockets", "asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def sim_main(argv: Sequence[str]) -> int:
    from snuper.sim.server import run_sim

    args = build_sim_parser().parse_args(argv)
    _configure_logging(verbose=False)
    faults = Faults(
        drop_after=args.drop_after,
        malformed_at=args.malformed_at,
        http_status=args.http_status,
        http_failures=args.http_failures if args.http_status else 0,
        delay_s=args.delay,
        unreadable_api=args.unreadable_api,
    )
    options = SimOptions(
        seed=args.seed,
        speed=args.speed,
        slate_day=args.slate,
        events_per_league=args.events,
        faults=faults,
    )
    try:
        return run_sim(options, port=args.port)
    except OSError as exc:  # e.g. the port is taken
        log.error("cannot serve the simulators on port %d: %s", args.port, exc.strerror or exc)
        return 1


def _sink_from_args(args: argparse.Namespace, base: SinkSettings) -> Sink:
    """The sink (or fanout) the flags and environment ask for; SinkConfigError names a flag."""
    flags = {option.dest: getattr(args, option.dest) for option in SINK_OPTIONS}
    names, settings = sink_options.resolve(flags, base, sink_flag=args.sink)
    return sink_options.build_sinks(names, settings)


def read_main(argv: Sequence[str]) -> int:
    parser = build_read_parser()
    args = parser.parse_args(argv)
    try:
        sink = _sink_from_args(args, SinkSettings(fs_dir=args.fs_sink_dir, must_exist=True))
    except SinkConfigError as exc:
        parser.error(str(exc))
    _configure_logging(verbose=False)
    try:
        records = sink.read_event(args.provider, args.league, args.slate, args.event)
    except SinkError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    finally:
        with contextlib.suppress(SinkError):
            sink.close()
    out = sys.stdout.buffer
    for record in records:
        out.write(record.to_json() + b"\n")
    out.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sim"]:
        return sim_main(argv[1:])
    if argv[:1] == ["read"]:
        return read_main(argv[1:])
    if argv[:1] == ["replay"]:
        from snuper.archive.command import replay_main

        return replay_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    sinks = SinkSettings(fs_dir=args.fs_sink_dir, must_exist=args.task == "monitor")
    monitor = MonitorSettings(
        interval=DEFAULT_INTERVAL_S if args.interval is None else args.interval,
        poll_interval=args.interval,
        heartbeat_s=args.heartbeat,
        max_runtime=args.max_runtime,
        shutdown_deadline=args.shutdown_deadline,
    )
    try:
        settings = Settings.from_env(monitor=monitor)
        providers, leagues = _select(args)
        archiving = _archiving(args)
        sink = _sink_from_args(args, sinks)
        archive = _archive_store(sink) if archiving else None
    except (UsageError, SinkConfigError, ConfigError) as exc:
        parser.error(str(exc))
    _configure_logging(args.verbose)
    now = wall_clock(settings.start_at)
    try:
        if args.task == "monitor":
            return asyncio.run(
                _monitor(providers, leagues, sink, settings, now, args.slate, archive)
            )
        outcomes = asyncio.run(_scrape(providers, leagues, sink, settings, args.overwrite, now))
    except SinkError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    except KeyboardInterrupt:
        log.warning("interrupted")
        return EXIT_INTERRUPTED
    code = scrape_exit_status(outcomes)
    try:
        sink.close()
    except SinkError as exc:
        log.error("%s", exc)
        code = code or EXIT_FAILED
    if code == EXIT_INTERRUPTED:
        log.warning("%s", interrupted_line(outcomes))
    return code
