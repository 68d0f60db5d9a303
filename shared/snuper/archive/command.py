"""`snuper replay`: flags in; the replay (or one message shown) out, with the CLI's exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from snuper.archive.replay import ReplayError, ReplayRun, replay, replay_settings, show
from snuper.archive.segment import SegmentError
from snuper.archive.stores import SegmentStore, segment_store
from snuper.cli import (
    EXIT_FAILED,
    EXIT_LOST,
    EXIT_OK,
    _configure_logging,
    _sink_from_args,
    build_replay_parser,
)
from snuper.config import ConfigError, MonitorSettings, Settings, SinkSettings
from snuper.providers import PROVIDERS
from snuper.signals import stop_on_signals
from snuper.sinks.base import Sink, SinkConfigError, SinkError, build_sink

log = logging.getLogger("snuper")
S3_SCHEME = "s3://"


def source_sink(text: str) -> tuple[Sink, SegmentStore]:
    """The sink `--from` names (a folder, or s3://bucket[/prefix]) and its segment store;
    SinkConfigError naming --from when it is neither."""
    try:
        if text.startswith(S3_SCHEME):
            from snuper.sinks.s3 import check_bucket, check_prefix

            bucket, _, prefix = text[len(S3_SCHEME) :].partition("/")
            settings = SinkSettings(
                s3_bucket=check_bucket(bucket), s3_prefix=check_prefix(prefix.strip("/"))
            )
            sink = build_sink("s3", settings)
        else:
            folder = Path(text)
            if not folder.is_dir():
                raise SinkConfigError("--from", f"no such folder: {text}")
            sink = build_sink("fs", SinkSettings(fs_dir=folder, must_exist=True))
    except SinkConfigError as exc:
        raise SinkConfigError("--from", exc.problem) from None
    except ValueError as exc:
        raise SinkConfigError("--from", str(exc)) from None
    store = segment_store(sink)
    assert store is not None  # fs and s3 both hold segments
    return sink, store


def _places(sink: Sink) -> set[str]:
    """Where a sink (or each sink of a fanout) keeps its records: a folder, or bucket/prefix."""
    found = set()
    for member in getattr(sink, "sinks", [sink]):
        if hasattr(member, "root"):
            found.add(os.path.realpath(member.root))
        bucket = getattr(member, "bucket", None)
        if bucket is not None:
            found.add(f"s3://{bucket.name}/{member.prefix}")
    return found


def _same_place(out: Sink, source: Sink) -> str | None:
    """The place the replay would write to that it also reads from (the live run's records
    would get a second copy), or None."""
    return next(iter(sorted(_places(out) & _places(source))), None)


def _shown(found: Any) -> dict[str, Any]:
    entry = found.entry
    payload = entry.payload
    batch = found.batch
    shown: dict[str, Any] = {
        "raw_ref": found.ref,
        "connection": entry.conn,
        "received_at": entry.received.isoformat().replace("+00:00", "Z"),
        "bytes": len(payload.encode() if isinstance(payload, str) else payload),
        "text" if isinstance(payload, str) else "hex": (
            payload if isinstance(payload, str) else payload.hex()
        ),
    }
    if found.problem is not None:
        shown["parse_error"] = found.problem
    if batch is not None:
        shown["parsed"] = {
            "kind": batch.kind,
            "source_ts": batch.source_ts,
            "items": [
                {"item": type(item).__name__, **dataclasses.asdict(item)} for item in batch.items
            ],
        }
        if batch.raw is not None:
            shown["decoded"] = batch.raw
    return shown


async def _replay_with_signals(*args: Any, **kwargs: Any) -> ReplayRun:
    with stop_on_signals() as stop:
        return await replay(*args, stop=stop, **kwargs)


def replay_main(argv: Sequence[str]) -> int:
    parser = build_replay_parser()
    args = parser.parse_args(argv)
    provider = PROVIDERS[args.provider]
    try:
        settings = Settings.from_env(
            monitor=MonitorSettings(shutdown_deadline=args.shutdown_deadline)
        )
        source, store = source_sink(args.source)
        out = None
        if args.show is None:
            out = _sink_from_args(args, SinkSettings(fs_dir=args.fs_sink_dir))
            same = _same_place(out, source)
            if same is not None:
                raise SinkConfigError(
                    "--sink" if same.startswith(S3_SCHEME) else "-o/--fs-sink-dir",
                    f"{same} is where the replay reads from: it would add a second copy of "
                    "every record the live run wrote there; replay somewhere else",
                )
    except (SinkConfigError, ConfigError) as exc:
        parser.error(str(exc))
    _configure_logging(args.verbose)
    try:
        if out is None:
            found = show(provider, args.league, store, source, args.show, settings)
            sys.stdout.buffer.write(orjson.dumps(_shown(found), option=orjson.OPT_INDENT_2,
                                                 default=repr) + b"\n")  # fmt: skip
            return EXIT_OK
        run = asyncio.run(_replay_with_signals(provider, args.league, store, source, out,
                                               replay_settings(settings, args.shutdown_deadline),
                                               slate=args.slate, speed=args.speed))  # fmt: skip
    except (ReplayError, SegmentError, SinkError) as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    finally:
        with contextlib.suppress(SinkError):
            source.close()
    return _status(run)


def _status(run: ReplayRun) -> int:
    result = run.result
    assert result is not None
    short = f"; {len(run.truncated)} segment(s) read short (see above)" if run.truncated else ""
    log.info("%s %s: replayed slate %s from %d segments: %d messages, %d updates%s",
             run.provider, run.league, run.slate, run.segments, result.messages,
             result.updates, short)  # fmt: skip
    if result.lost:
        log.error("%s %s: %d records lost by sink %s", run.provider, run.league, result.lost,
                  result.sink)  # fmt: skip
        return EXIT_LOST
    return EXIT_OK if result.ok else EXIT_FAILED
