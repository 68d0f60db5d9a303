"""The sink options: each a flag and an environment variable (the cloud functions configure sinks
without flags), all checked before any work starts; and the sink a list of names builds.

A flag wins over its variable. A bad value is one SinkConfigError naming the flag, or the
variable when that is where the value came from.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from snuper.config import SinkSettings
from snuper.sinks.base import SINKS, Sink, SinkConfigError, build_sink

SINK_VAR = "SNUPER_SINK"
FS_DIR_VAR = "SNUPER_FS_DIR"
STAGING_VAR = "SNUPER_STAGING_DIR"
# Without -o, the non-fs sinks keep their spill files here, the same folder run after run, so
# the next run finds and replays what a sink still down at shutdown left.
DEFAULT_STAGING = Path(tempfile.gettempdir()) / "snuper-staging"


@dataclass(frozen=True, slots=True)
class SinkOption:
    dest: str  # the SinkSettings field and the argparse dest
    flag: str
    env: str
    help: str
    metavar: str


SINK_OPTIONS: tuple[SinkOption, ...] = (
    SinkOption("rds_uri", "--rds-uri", "SNUPER_RDS_URI",
               "PostgreSQL as an SQLAlchemy URI (postgresql+psycopg://user:pass@host/db)", "URI"),
    SinkOption("rds_table", "--rds-table", "SNUPER_RDS_TABLE",
               "primary table; snapshots go to <table>_snapshots (default snuper_events)", "NAME"),
    SinkOption("cache_uri", "--cache-uri", "SNUPER_CACHE_URI",
               "Redis URI (redis:// or rediss://)", "URI"),
    SinkOption("cache_ttl", "--cache-ttl", "SNUPER_CACHE_TTL",
               "seconds a cache key lives after its last write (default 86400)", "SECONDS"),
    SinkOption("cache_max_items", "--cache-max-items", "SNUPER_CACHE_MAX_ITEMS",
               "records kept per event list in the cache (default 1000)", "N"),
    SinkOption("s3_bucket", "--s3-bucket", "SNUPER_S3_BUCKET",
               "S3 bucket (region and endpoint from the usual AWS environment)", "NAME"),
    SinkOption("s3_prefix", "--s3-prefix", "SNUPER_S3_PREFIX",
               "key prefix inside the bucket (default: none)", "PREFIX"),
)  # fmt: skip
# What each sink cannot do without.
REQUIRED = {"rds": "rds_uri", "cache": "cache_uri", "s3": "s3_bucket"}


def _whole(text: str, what: str) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise ValueError(f"expected a whole number of {what}, got {text!r}") from None
    if number < 1:
        raise ValueError(f"must be at least 1, got {number}")
    return number


def _rds_uri(text: str) -> str:
    from snuper.sinks.rds import normalise_uri

    return normalise_uri(text)


def _rds_table(text: str) -> str:
    from snuper.sinks.rds import check_table

    return check_table(text)


def _cache_uri(text: str) -> str:
    from snuper.sinks.cache import check_uri

    return check_uri(text)


def _bucket(text: str) -> str:
    from snuper.sinks.s3 import check_bucket

    return check_bucket(text)


def _prefix(text: str) -> str:
    from snuper.sinks.s3 import check_prefix

    return check_prefix(text)


_CHECKS: dict[str, Callable[[str], object]] = {
    "rds_uri": _rds_uri,
    "rds_table": _rds_table,
    "cache_uri": _cache_uri,
    "cache_ttl": lambda text: _whole(text, "seconds"),
    "cache_max_items": lambda text: _whole(text, "items"),
    "s3_bucket": _bucket,
    "s3_prefix": _prefix,
}


def parse_names(text: str, source: str = "--sink") -> list[str]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise SinkConfigError(source, "expected one sink or a comma list, got nothing")
    unknown = [name for name in names if name not in SINKS]
    if unknown:
        raise SinkConfigError(
            source, f"unknown sink {unknown[0]!r} (choose from {', '.join(SINKS)})"
        )
    return list(dict.fromkeys(names))


def resolve(
    flags: Mapping[str, str | None],
    base: SinkSettings,
    env: Mapping[str, str] | None = None,
    *,
    sink_flag: str | None = None,
) -> tuple[list[str], SinkSettings]:
    """The sink names and settings from flags (by dest), else the environment; every value
    checked, and every chosen sink's required option present."""
    env = os.environ if env is None else env
    if sink_flag is not None:
        names = parse_names(sink_flag)
    else:
        names = parse_names(env.get(SINK_VAR) or "fs", SINK_VAR)
    values: dict[str, object] = {}
    for option in SINK_OPTIONS:
        text, source = flags.get(option.dest), option.flag
        if text is None and env.get(option.env):
            text, source = env[option.env], option.env
        if text is None:
            continue
        try:
            values[option.dest] = _CHECKS[option.dest](text)
        except SinkConfigError as exc:  # a checker that names its own flag
            raise SinkConfigError(source, exc.problem) from None
        except ValueError as exc:
            raise SinkConfigError(source, str(exc)) from None
    settings = replace(base, **values)  # type: ignore[arg-type]
    if settings.fs_dir is None and env.get(FS_DIR_VAR):
        settings = replace(settings, fs_dir=Path(env[FS_DIR_VAR]))
    for name in names:
        needed = REQUIRED.get(name)
        if needed and getattr(settings, needed) is None:
            option = next(o for o in SINK_OPTIONS if o.dest == needed)
            raise SinkConfigError(option.flag, f"required by --sink {name} (or set {option.env})")
    return names, settings


def staging_dir(settings: SinkSettings, env: Mapping[str, str] | None = None) -> Path:
    """Where spill files live: -o when given, else SNUPER_STAGING_DIR, else a fixed folder
    under the system's temporary directory (created)."""
    env = os.environ if env is None else env
    if settings.staging_dir is not None:
        return settings.staging_dir
    if settings.fs_dir is not None:
        return settings.fs_dir / ".staging"
    return Path(env[STAGING_VAR]) if env.get(STAGING_VAR) else DEFAULT_STAGING


def build_sinks(names: Sequence[str], settings: SinkSettings) -> Sink:
    """One sink, or a fanout over several (in the order given: snapshots load from the first
    that has one). SinkConfigError names a bad flag."""
    if len(names) == 1:
        return build_sink(names[0], settings)
    from snuper.sinks.fanout import FanoutSink

    sinks = [build_sink(name, settings) for name in names]
    folder = staging_dir(settings) / "spill"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkConfigError(STAGING_VAR, f"cannot create {folder}: {exc.strerror}") from None
    return FanoutSink(sinks, folder)
