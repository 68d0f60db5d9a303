"""Settings, sinks and the clock of a cloud run, from the environment (the template sets it).

The sinks' clients (SQLAlchemy engine, Redis client, S3 client) are made once per process by the
sink modules and reused by every sink built here: a warm Lambda builds a sink per invocation (so
each closes cleanly) without new connections."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from snuper.config import LAMBDA_BROWSER_ARGS, MonitorSettings, Settings, SinkSettings
from snuper.sinks.base import Sink, SinkError
from snuper.slate import wall_clock

log = logging.getLogger("snuper")
LAMBDA_VAR = "AWS_LAMBDA_FUNCTION_NAME"


def in_lambda(env: Mapping[str, str] | None = None) -> bool:
    return bool((os.environ if env is None else env).get(LAMBDA_VAR))


def settings(
    env: Mapping[str, str] | None = None, monitor: MonitorSettings | None = None
) -> Settings:
    """Settings.from_env, plus Chromium's Lambda flags and a fresh profile folder in /tmp when
    running in Lambda. ConfigError names a bad variable (SNUPER_NOW...)."""
    env = os.environ if env is None else env
    found = Settings.from_env(env, monitor=monitor)
    if not in_lambda(env):
        return found
    extra = tuple(arg for arg in LAMBDA_BROWSER_ARGS if arg not in found.browser_args)
    return replace(found, browser_args=found.browser_args + extra, browser_temp_profile=True)


def clock(found: Settings) -> Callable[[], datetime]:
    """The wall clock, starting at SNUPER_NOW when set (as the CLI does: tests, replays)."""
    return wall_clock(found.start_at)


def sink(env: Mapping[str, str] | None = None, *, must_exist: bool = False) -> Sink:
    """The sink (or fanout) SNUPER_SINK and the sink variables ask for, the rds URI from the
    secret when SNUPER_RDS_SECRET_ARN is set. SinkConfigError or SecretError names a variable."""
    from snuper.aws.secrets import URI_VAR, rds_uri
    from snuper.sinks import options

    env = os.environ if env is None else env
    names = options.parse_names(env.get(options.SINK_VAR) or "fs", options.SINK_VAR)
    if "rds" in names and not env.get(URI_VAR):
        uri = rds_uri(env)
        if uri is not None:
            env = {**env, URI_VAR: uri}
    base = SinkSettings(must_exist=must_exist)
    names, found = options.resolve({}, base, env)
    return options.build_sinks(names, found)


def close(sink: Sink) -> None:
    """Close a sink after a run whose results are stored (or were never going to be): a failure
    is logged, and does not turn the run's answer into an error."""
    try:
        sink.close()
    except SinkError as exc:
        log.error("closing the sinks: %s", exc)
