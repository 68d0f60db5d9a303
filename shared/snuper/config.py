"""Settings from flags + environment, and the endpoint table (design.md §5).

Every provider endpoint has the real host as its default and can be pointed elsewhere (the
simulators) with SNUPER_<PROVIDER>_<NAME>. Defaults may hold {state}, the book's US state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from snuper.slate import parse_iso

STATE_VAR = "SNUPER_STATE"
BROWSER_VAR = "SNUPER_BROWSER_PATH"
BROWSER_ARGS_VAR = "SNUPER_BROWSER_ARGS"
NOW_VAR = "SNUPER_NOW"
POLL_GAP_VAR = "SNUPER_POLL_GAP"
POLL_CONCURRENCY_VAR = "SNUPER_POLL_CONCURRENCY"
ARCHIVE_VAR = "SNUPER_ARCHIVE"
DEFAULT_STATE = "nj"

# The browser the scrapers present, and the user agent of every HTTP and websocket client.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# Without the background-networking flags Chromium floods a closed network with refused
# connections; --no-sandbox because containers and Lambda run as root or without namespaces.
BROWSER_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# Added on AWS Lambda (style.md): one process, and no shared memory beyond /tmp.
LAMBDA_BROWSER_ARGS: tuple[str, ...] = ("--single-process", "--no-zygote")

# Variables that are not endpoints, documented in the README beside the endpoint table.
GENERAL_VARS = {
    STATE_VAR: "US state whose book sites are used (default nj)",
    BROWSER_VAR: "Chromium executable for Playwright (default: Playwright's own browser)",
    BROWSER_ARGS_VAR: "extra Chromium flags, space-separated (added to the defaults)",
    NOW_VAR: "ISO time the wall clock starts at (replays, demos, tests; default: the real clock)",
    ARCHIVE_VAR: "1 to archive every message a monitor receives, as --archive does (default 0)",
}

_YES = frozenset({"1", "true", "yes", "on"})
_NO = frozenset({"", "0", "false", "no", "off"})


def archive_wanted(env: Mapping[str, str] | None = None) -> bool:
    """SNUPER_ARCHIVE as a switch; ConfigError for a value that is neither yes nor no."""
    env = os.environ if env is None else env
    text = env.get(ARCHIVE_VAR, "").strip().lower()
    if text in _YES or text in _NO:
        return text in _YES
    raise ConfigError(ARCHIVE_VAR, f"expected 1 or 0 (true/false, yes/no, on/off), got {text!r}")


def endpoint_var(provider: str, name: str) -> str:
    return f"SNUPER_{provider.upper()}_{name.upper()}"


def resolve_endpoints(
    provider: str, defaults: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Name -> URL for one provider: the environment override, else the default for the state."""
    env = os.environ if env is None else env
    state = env.get(STATE_VAR, DEFAULT_STATE).lower()
    resolved = {}
    for name, default in defaults.items():
        override = env.get(endpoint_var(provider, name))
        resolved[name] = (override or default.format(state=state)).rstrip("/")
    return resolved


DEFAULT_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """How the monitor engine behaves; every field has a flag or a sensible default."""

    interval: float = (
        DEFAULT_INTERVAL_S  # how often the engine checks idle events, runtime, flushes
    )
    # How often polled books are asked; None: each book's own cadence (poll.poll_interval).
    poll_interval: float | None = None
    heartbeat_s: float = 60.0  # silence per event before a heartbeat record
    max_runtime: float | None = None  # stop after this many seconds
    receive_timeout: float = 10.0  # wake the receive loop at least this often
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_failures: int = 10  # consecutive failed connections before giving up
    queue_size: int = 10_000  # records waiting for the sink before back-pressure
    # A written record is made durable (flushed) as soon as no more are waiting, and at the
    # latest this long after it was written while more keep coming (a group commit).
    durable_within: float = 0.02
    # After a stop (signal, runtime limit, events over), how long the sink gets to take what is
    # queued; below ECS's 30 s stop timeout so a Fargate task is never killed mid-write.
    shutdown_deadline: float = 20.0


@dataclass(frozen=True, slots=True)
class SinkSettings:
    """What the sinks are built from (flags or environment)."""

    fs_dir: Path | None = None  # -o/--fs-sink-dir
    # A monitor only reads snapshots: a missing folder is a mistake, not something to create.
    must_exist: bool = False
    # Local scratch of the non-fs sinks (fanout spill files): -o when given, else a temporary
    # folder made by the caller (sinks.options.staging_dir).
    staging_dir: Path | None = None
    rds_uri: str | None = None  # SQLAlchemy URI, postgresql+psycopg://...
    rds_table: str = "snuper_events"  # a plain SQL identifier (checked)
    cache_uri: str | None = None  # redis:// or rediss://
    cache_ttl: int = 86_400  # seconds every cache key lives after its last write
    cache_max_items: int = 1_000  # per event list
    s3_bucket: str | None = None
    s3_prefix: str = ""  # no leading or trailing slash


@dataclass(frozen=True, slots=True)
class Settings:
    state: str = DEFAULT_STATE
    browser_path: str | None = None
    browser_args: tuple[str, ...] = BROWSER_ARGS
    # Launch with a fresh temporary profile folder (Lambda: only /tmp is writable).
    browser_temp_profile: bool = False
    user_agent: str = USER_AGENT
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    start_at: datetime | None = None  # SNUPER_NOW: the wall clock starts here (None: real time)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, monitor: MonitorSettings | None = None
    ) -> Settings:
        """Raises ConfigError naming the variable that holds a bad value."""
        env = os.environ if env is None else env
        start_at = None
        if env.get(NOW_VAR):
            try:
                start_at = parse_iso(env[NOW_VAR])
            except ValueError:
                raise ConfigError(NOW_VAR, f"not an ISO time: {env[NOW_VAR]!r}") from None
        _check_politeness(env)
        return cls(
            state=env.get(STATE_VAR, DEFAULT_STATE).lower(),
            browser_path=env.get(BROWSER_VAR) or None,
            browser_args=BROWSER_ARGS + tuple(env.get(BROWSER_ARGS_VAR, "").split()),
            monitor=monitor or MonitorSettings(),
            start_at=start_at,
        )


def _check_politeness(env: Mapping[str, str]) -> None:
    """The polled books' pacing variables (snuper.poll reads them), checked before any work."""
    gap, cap = env.get(POLL_GAP_VAR), env.get(POLL_CONCURRENCY_VAR)
    if gap:
        try:
            ok = float(gap) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(POLL_GAP_VAR, f"expected seconds >= 0, got {gap!r}")
    if cap and not (cap.strip().isdigit() and int(cap) >= 1):
        raise ConfigError(POLL_CONCURRENCY_VAR, f"expected a whole number >= 1, got {cap!r}")


class ConfigError(ValueError):
    """An environment variable with a value we cannot use; the message names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"environment variable {variable}: {problem}")
