"""Settings from flags + environment, and the endpoint table (design.md §5).

Every provider endpoint has the real host as its default and can be pointed elsewhere (the
simulators) with SNUPER_<PROVIDER>_<NAME>. Defaults may hold {state}, the book's US state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

STATE_VAR = "SNUPER_STATE"
BROWSER_VAR = "SNUPER_BROWSER_PATH"
DEFAULT_STATE = "nj"

# Variables that are not endpoints, documented in the README beside the endpoint table.
GENERAL_VARS = {
    STATE_VAR: "US state whose book sites are used (default nj)",
    BROWSER_VAR: "Chromium executable for Playwright (default: Playwright's own browser)",
}


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


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """How the monitor engine behaves; every field has a flag or a sensible default."""

    interval: float = 1.0  # how often the engine checks idle events, runtime and flushes
    heartbeat_s: float = 60.0  # silence per event before a heartbeat record
    max_runtime: float | None = None  # stop after this many seconds
    receive_timeout: float = 10.0  # wake the receive loop at least this often
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_failures: int = 10  # consecutive failed connections before giving up
    queue_size: int = 10_000  # records waiting for the sink before back-pressure


@dataclass(frozen=True, slots=True)
class Settings:
    state: str = DEFAULT_STATE
    browser_path: str | None = None
    monitor: MonitorSettings = field(default_factory=MonitorSettings)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, monitor: MonitorSettings | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        return cls(
            state=env.get(STATE_VAR, DEFAULT_STATE).lower(),
            browser_path=env.get(BROWSER_VAR) or None,
            monitor=monitor or MonitorSettings(),
        )
