"""The snuper command line: `snuper -t {scrape,monitor} ...` and `snuper sim`.

Usage errors print one line naming the flag or path and exit 2; failures at run time exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import NoReturn

from snuper.browser import BrowserError
from snuper.config import MonitorSettings, Settings
from snuper.model import Snapshot
from snuper.providers import PROVIDERS, Provider
from snuper.runner import MonitorEngine, MonitorResult
from snuper.sim.options import Faults, SimOptions
from snuper.sinks.base import Sink, SinkError
from snuper.sinks.fs import FsSink
from snuper.slate import LEAGUES, today_slate

log = logging.getLogger("snuper")
SINKS = ("fs",)  # the other backends arrive with their issue
MIN_CADENCE_S = 0.05


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
        default=1.0,
        help="monitor cadence in seconds: heartbeat checks and sink flushes",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace today's snapshot")
    parser.add_argument("--sink", choices=SINKS, default="fs")
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
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
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
    return parser


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(
            f"argument -o/--fs-sink-dir: cannot write to {folder}: {exc.strerror or exc}"
        ) from None


def _select(args: argparse.Namespace) -> tuple[list[Provider], list[str]]:
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


def _sink(args: argparse.Namespace) -> Sink:
    if args.fs_sink_dir is None:
        raise UsageError("argument --sink fs: needs -o/--fs-sink-dir")
    _check_writable(args.fs_sink_dir)
    return FsSink(args.fs_sink_dir)


async def run_scrape(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    sink: Sink,
    settings: Settings,
    overwrite: bool,
) -> int:
    from snuper.providers.base import ScrapeContext

    failed = 0
    for provider in providers:
        wanted = [lg for lg in leagues if lg in provider.leagues]
        context = ScrapeContext(provider.endpoints(), settings)
        try:
            snapshots = await provider.scrape(context, wanted)
        except BrowserError as exc:
            log.error("%s: scrape failed: %s", provider.name, exc)
            failed += len(wanted)
            continue
        failed += len(set(wanted) - {s.league for s in snapshots})
        for snapshot in snapshots:
            save_snapshot(provider, snapshot, sink, overwrite)
    return 1 if failed else 0


def save_snapshot(provider: Provider, snapshot: Snapshot, sink: Sink, overwrite: bool) -> None:
    name = f"{provider.name} {snapshot.league}"
    if not snapshot.events:
        # An empty file would stand in the way of the day's real snapshot later on.
        log.warning("%s: no games on slate %s; nothing written", name, snapshot.slate_date)
        return
    where = sink.describe(snapshot)
    selections = sum(len(e.selections) for e in snapshot.events)
    if sink.save_snapshot(snapshot, overwrite=overwrite):
        log.info("%s: wrote %d events, %d selections to %s",
                 name, len(snapshot.events), selections, where)  # fmt: skip
    else:
        log.info("%s: kept existing %s (use --overwrite to replace it)", name, where)


async def run_monitor(
    providers: Sequence[Provider], leagues: Sequence[str], sink: Sink, settings: Settings
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    engines = []
    for provider in providers:
        wanted = [lg for lg in leagues if lg in provider.leagues]
        snapshots = sink.load_snapshots(provider.name, wanted)
        for league in sorted(set(wanted) - {s.league for s in snapshots}):
            log.warning(
                "%s %s: no snapshot to monitor; run `snuper -t scrape` first", provider.name, league
            )
        for snapshot in snapshots:
            if snapshot.slate_date < today_slate():
                log.warning(
                    "%s %s: the latest snapshot is of %s, not today",
                    provider.name,
                    snapshot.league,
                    snapshot.slate_date,
                )
            feed = provider.feed(provider.endpoints(), settings, snapshot)
            engines.append(MonitorEngine(snapshot, feed, sink, settings.monitor, stop))
    if not engines:
        log.error("nothing to monitor: no snapshot found")
        return 1
    try:
        # One engine failing must not cancel the others (and lose what they hold).
        results = await asyncio.gather(*(e.run() for e in engines), return_exceptions=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    crashed = [r for r in results if isinstance(r, BaseException)]
    for exc in crashed:
        log.error("a monitor failed: %s: %s", type(exc).__name__, exc)
    return 0 if not crashed and all(r.ok for r in results if isinstance(r, MonitorResult)) else 1


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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sim"]:
        return sim_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        providers, leagues = _select(args)
        sink = _sink(args)
    except UsageError as exc:
        parser.error(str(exc))
    _configure_logging(args.verbose)
    monitor = MonitorSettings(
        interval=args.interval, heartbeat_s=args.heartbeat, max_runtime=args.max_runtime
    )
    settings = Settings.from_env(monitor=monitor)
    code = 1
    try:
        if args.task == "scrape":
            code = asyncio.run(run_scrape(providers, leagues, sink, settings, args.overwrite))
        else:
            code = asyncio.run(run_monitor(providers, leagues, sink, settings))
    except (SinkError, BrowserError) as exc:
        log.error("%s", exc)
    except KeyboardInterrupt:
        log.warning("interrupted")
        code = 130
    try:
        sink.close()
    except SinkError as exc:
        log.error("%s", exc)
        code = code or 1
    return code
