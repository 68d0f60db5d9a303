"""Cloud fixtures: the functions' environment pointed at real PostgreSQL and Redis and moto's S3
(tests/services.py), the DraftKings simulator, the sample events, and the handlers called as
Lambda calls them (an event dict and a context object)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import redis

from snuper.aws.context import LocalContext
from snuper.providers.draftkings.sim import DraftKingsSim, Scenario
from snuper.sim.options import SimOptions
from snuper.sim.server import RunningSim
from tests.e2e.cli import cli_env
from tests.e2e.conftest import draftkings_sim
from tests.services import S3Place

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TABLE = "snuper_cloud"
PREFIX = "cloud"
# The tests serve only the DraftKings simulator: every other book would be the real host.
DK_NBA: dict[str, Any] = {"providers": ["draftkings"], "leagues": ["nba"]}
Handler = Callable[[dict[str, Any], LocalContext], dict[str, Any]]


def load_event(name: str) -> dict[str, Any]:
    """One of events/*.json, as Lambda hands it to a handler."""
    event = orjson.loads((EVENTS / name).read_bytes())
    assert isinstance(event, dict)
    return event


async def invoke(
    handler: Handler, event: dict[str, Any], function: str, timeout_s: float = 900.0
) -> dict[str, Any]:
    """Call `handler` as Lambda does. On a thread: the simulator serves from this test's loop
    while the handler runs an event loop of its own (asyncio.run), as in Lambda."""
    return await asyncio.to_thread(handler, event, LocalContext(function, timeout_s))


@dataclass(frozen=True)
class Cloud:
    """The services the functions write to, and their environment (a subprocess gets it too)."""

    pg_uri: str
    redis_uri: str
    s3: S3Place
    env: dict[str, str]

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.pg_uri.replace("+psycopg", "")) as conn:
            return list(conn.execute(sql, params).fetchall())

    def table_exists(self, name: str) -> bool:
        [(found,)] = self.rows("SELECT to_regclass(%s) IS NOT NULL", name)
        return bool(found)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_uri)

    def snapshot_keys(self) -> list[str]:
        with self.redis() as client:
            return sorted(k.decode() for k in client.scan_iter("snuper:snapshots:*"))

    def s3_keys(self) -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.s3.endpoint)
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.s3.bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """What every function's environment holds besides the services: the frozen clock and the
    Chromium of the e2e tests, Powertools without a tracer (as outside Lambda)."""
    e2e = cli_env()  # SNUPER_NOW (no test depends on the date) and SNUPER_BROWSER_PATH
    env = {
        **{name: e2e[name] for name in ("SNUPER_NOW", "SNUPER_BROWSER_PATH") if e2e.get(name)},
        "SNUPER_STAGING_DIR": str(tmp_path / "staging"),
        "POWERTOOLS_SERVICE_NAME": "snuper",
        "POWERTOOLS_METRICS_NAMESPACE": "Snuper",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "SNUPER_RDS_SECRET_ARN", "SNUPER_RDS_URI"):
        monkeypatch.delenv(name, raising=False)
    return env


@pytest.fixture
def cloud(
    monkeypatch: pytest.MonkeyPatch,
    lambda_env: dict[str, str],
    pg_uri: str,
    redis_uri: str,
    s3_place: S3Place,
) -> Cloud:
    """The functions' environment as the template sets it (SNUPER_SINK=rds,cache,s3), pointed at
    this test's database, Redis db and bucket."""
    env = {
        **lambda_env,
        **s3_place.env,
        "SNUPER_SINK": "rds,cache,s3",
        "SNUPER_RDS_URI": pg_uri,
        "SNUPER_RDS_TABLE": TABLE,
        "SNUPER_CACHE_URI": redis_uri,
        "SNUPER_S3_BUCKET": s3_place.bucket,
        "SNUPER_S3_PREFIX": PREFIX,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Cloud(pg_uri, redis_uri, s3_place, env)


@dataclass(frozen=True)
class Handlers:
    scrape: Handler
    plan: Handler


@pytest.fixture
def handlers(lambda_env: dict[str, str]) -> Iterator[Handlers]:
    """The two Lambda handlers, imported once the environment is set (Powertools reads it at
    import, as in a cold start)."""
    with _logging_kept():
        from snuper.aws import observability

        # The JSON handler writes to this test's stdout, even when an earlier test made it.
        library = logging.getLogger(observability.logger.name)
        handler = observability.logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stdout)
        if handler not in library.handlers:
            library.addHandler(handler)
        library.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))
        from functions.plan_monitors import app as plan
        from functions.scrape import app as scrape

        yield Handlers(scrape.handler, plan.handler)


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    """Powertools' Logger gives the "snuper" logger a handler and a level, and filters the root
    handlers: the rest of the suite (its caplog tests) must not inherit them."""
    library, root = logging.getLogger("snuper"), logging.getLogger()
    handlers, level, propagate = library.handlers[:], library.level, library.propagate
    root_filters = {handler: handler.filters[:] for handler in root.handlers}
    try:
        yield
    finally:
        library.handlers[:] = handlers
        library.setLevel(level)
        library.propagate = propagate
        for handler, filters in root_filters.items():
            handler.filters[:] = filters


@contextlib.asynccontextmanager
async def simulators(
    monkeypatch: pytest.MonkeyPatch,
    options: SimOptions | None = None,
    scenarios: dict[str, Scenario] | None = None,
) -> AsyncIterator[tuple[RunningSim, DraftKingsSim]]:
    """The DraftKings simulator on a loopback port, this process's SNUPER_DRAFTKINGS_* at it."""
    async with draftkings_sim(options or SimOptions(), scenarios) as (running, sim):
        for name, value in running.exports.items():
            monkeypatch.setenv(name, value)
        yield running, sim
