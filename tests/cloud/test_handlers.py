"""Each events/*.json file through its Lambda handler, as Lambda calls it, against the DraftKings
simulator, real PostgreSQL and Redis and moto's S3 (SNUPER_SINK=rds,cache,s3): what lands in
each, what the handler returns, and that a bad event is one clear error that writes nothing."""

from __future__ import annotations

import math
from datetime import timedelta

import orjson
import psycopg
import pytest
from aws_lambda_powertools.utilities.parameters import clear_caches

from snuper.aws.events import EventError
from snuper.aws.secrets import rds_uri
from snuper.model import Snapshot
from snuper.sim.options import Faults, SimOptions
from tests.cloud.conftest import (
    PREFIX,
    TABLE,
    Cloud,
    Handlers,
    invoke,
    load_event,
    simulators,
)
from tests.e2e.cli import FROZEN_DAY, FROZEN_NOW, FROZEN_SLATE
from tests.services import AWS_TEST_ENV

SCRAPE, PLAN = "ScrapeFunction", "PlanMonitorsFunction"


def stored_snapshots(cloud: Cloud) -> dict[str, Snapshot]:
    """league -> the snapshot in PostgreSQL; and the same one in Redis and in S3."""
    rows = cloud.rows(f"SELECT league, snapshot_date, payload::text FROM {TABLE}_snapshots")
    found = {}
    with cloud.redis() as client:
        for league, slate, payload in rows:
            assert slate == FROZEN_SLATE
            snapshot = Snapshot.from_json(payload.encode())
            cached = client.get(f"snuper:snapshots:draftkings:{league}")
            assert cached is not None and Snapshot.from_json(cached) == snapshot
            found[league] = snapshot
    objects = {f"{PREFIX}/draftkings/events/{FROZEN_SLATE}-{lg}.json" for lg in found}
    assert objects == set(cloud.s3_keys())
    return found


def event_rows(cloud: Cloud) -> dict[str, int]:
    rows = cloud.rows(f"SELECT league, count(*) FROM {TABLE} WHERE kind = 'event' GROUP BY 1")
    return dict(rows)


async def test_scrape_one_writes_the_league_to_every_sink(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    async with simulators(monkeypatch):
        result = await invoke(handlers.scrape, load_event("scrape-one.json"), SCRAPE)
    snapshots = stored_snapshots(cloud)
    assert list(snapshots) == ["nba"]
    nba = snapshots["nba"]
    assert nba.events and event_rows(cloud) == {"nba": len(nba.events)}
    assert result["slate"] == FROZEN_SLATE and result["failed"] == []
    [one] = result["results"]
    selections = sum(len(e.selections) for e in nba.events)
    assert one | {"where": ""} == {"provider": "draftkings", "league": "nba", "status": "written",
                                   "events": len(nba.events), "selections": selections,
                                   "where": "", "reason": ""}  # fmt: skip
    assert f"s3://{cloud.s3.bucket}/{PREFIX}/draftkings/events/" in one["where"]


async def test_scrape_all_writes_each_league(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    async with simulators(monkeypatch):
        result = await invoke(handlers.scrape, load_event("scrape-all.json"), SCRAPE)
    snapshots = stored_snapshots(cloud)
    assert sorted(snapshots) == ["mlb", "nba", "nfl"]
    assert event_rows(cloud) == {lg: len(s.events) for lg, s in snapshots.items()}
    assert [(r["league"], r["status"]) for r in result["results"]] == [
        ("nba", "written"), ("nfl", "written"), ("mlb", "written")]  # fmt: skip
    assert result["failed"] == []


async def test_the_bad_event_is_one_clear_error_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    async with simulators(monkeypatch) as (_, sim):
        with pytest.raises(EventError, match=r"^unknown provider 'caesars' \(choose from draft"):
            await invoke(handlers.scrape, load_event("scrape-bad.json"), SCRAPE)
        with pytest.raises(EventError, match=r"^unknown league 'nhl'"):
            await invoke(handlers.scrape, {"leagues": ["nba", "nhl"]}, SCRAPE)
        with pytest.raises(EventError, match=r"^unknown key 'provider'"):
            await invoke(handlers.scrape, {"provider": ["draftkings"]}, SCRAPE)
        assert sim.api_requests == 0
    assert not cloud.table_exists(f"{TABLE}_snapshots") and not cloud.table_exists(TABLE)
    assert cloud.snapshot_keys() == []
    assert cloud.s3_keys() == []


async def test_one_league_failing_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    # The first league's data request is refused (401: blocked, not retried); the rest answer.
    options = SimOptions(faults=Faults(http_status=401, http_failures=1))
    async with simulators(monkeypatch, options):
        result = await invoke(handlers.scrape, load_event("scrape-all.json"), SCRAPE)
    assert [(r["league"], r["status"]) for r in result["results"]] == [
        ("nba", "blocked"), ("nfl", "written"), ("mlb", "written")]  # fmt: skip
    [failed] = result["failed"]
    assert failed.startswith("draftkings nba: blocked: ") and "401" in failed
    assert sorted(stored_snapshots(cloud)) == ["mlb", "nfl"]


async def test_a_day_without_games_is_listed_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
    cloud: Cloud,
    handlers: Handlers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The simulator's games are all tomorrow: today's slate is empty in every league.
    options = SimOptions(slate_day=FROZEN_DAY + timedelta(days=1))
    async with simulators(monkeypatch, options):
        result = await invoke(handlers.scrape, load_event("scrape-all.json"), SCRAPE)
    assert result["failed"] == [
        f"draftkings {lg}: no games: no games on the slate; nothing written"
        for lg in ("nba", "nfl", "mlb")
    ]
    assert cloud.snapshot_keys() == [] and cloud.s3_keys() == []
    # An ordinary day off is not an error worth an alarm.
    [emf] = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()
             if '"EventsScraped"' in line]  # fmt: skip
    assert (emf["EventsScraped"], emf["ScrapeErrors"]) == ([0.0], [0.0])


async def test_a_scrape_near_the_lambda_timeout_stops_in_time_and_says_so(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    # A slow site and 16 s left: the handler keeps 15 s to close and answer, so nba is
    # abandoned after about a second and the other leagues never start.
    options = SimOptions(faults=Faults(delay_s=5.0))
    async with simulators(monkeypatch, options):
        result = await invoke(handlers.scrape, load_event("scrape-all.json"), SCRAPE, 16)
    assert [(r["league"], r["status"], r["reason"]) for r in result["results"]] == [
        ("nba", "interrupted", "timeout: abandoned mid-scrape"),
        ("nfl", "interrupted", "timeout: not started"),
        ("mlb", "interrupted", "timeout: not started"),
    ]
    assert len(result["failed"]) == 3
    assert cloud.s3_keys() == []


@pytest.mark.parametrize("name", ["plan-monitors.json", "statemachine-start.json"])
async def test_plan_returns_a_job_per_scraped_league_with_games_left(
    name: str, monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    async with simulators(monkeypatch):
        await invoke(handlers.scrape, load_event("scrape-one.json"), SCRAPE)
    plan = await invoke(handlers.plan, load_event(name), PLAN)
    nba = stored_snapshots(cloud)["nba"]
    last_over = max(e.start_time for e in nba.events) + timedelta(hours=12)
    expected = math.ceil((last_over - FROZEN_NOW).total_seconds())
    assert plan["slate"] == FROZEN_SLATE
    [job] = plan["jobs"]
    stop_after = job.pop("stop_after")
    assert job == {"provider": "draftkings", "league": "nba", "slate": FROZEN_SLATE,
                   "events": len(nba.events)}  # fmt: skip
    assert expected - 5 <= stop_after <= expected  # the frozen clock runs on meanwhile


async def test_plan_without_snapshots_has_no_jobs_and_a_bad_input_is_an_error(
    cloud: Cloud, handlers: Handlers
) -> None:
    plan = await invoke(handlers.plan, load_event("plan-monitors.json"), PLAN)
    assert plan == {"slate": FROZEN_SLATE, "jobs": []}
    with pytest.raises(EventError, match="unknown league 'nhl'"):
        await invoke(handlers.plan, {"leagues": ["nhl"]}, PLAN)


async def test_the_database_uri_comes_from_the_secret_and_the_password_is_never_logged(
    monkeypatch: pytest.MonkeyPatch,
    pg_uri: str,
    handlers: Handlers,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # moto's in-process mock, without the S3 server (leaving the mock resets the server's
    # buckets too): the rds sink alone.
    from moto import mock_aws

    password = "pa:ss@w/rd?#"  # every character a URI would misread
    dbname = pg_uri.rsplit("/", 1)[1]
    env = {"SNUPER_RDS_HOST": "127.0.0.1", "SNUPER_RDS_PORT": "5432", "SNUPER_RDS_DBNAME": dbname}
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    try:
        with mock_aws():
            import boto3

            secret = orjson.dumps({"username": "postgres", "password": password}).decode()
            created = boto3.client("secretsmanager").create_secret(
                Name="rds!db-snuper", SecretString=secret
            )
            env["SNUPER_RDS_SECRET_ARN"] = created["ARN"]
            assert rds_uri(env) == (
                "postgresql+psycopg://postgres:pa%3Ass%40w%2Frd%3F%23@127.0.0.1:5432/"
                f"{dbname}?sslmode=require"
            )
            # SNUPER_RDS_URI wins when it is set (local runs, tests).
            assert rds_uri({**env, "SNUPER_RDS_URI": "postgresql://x@h/d"}) == "postgresql://x@h/d"
            # The scrape writes through the URI the secret made (the test server trusts any
            # password and has no TLS).
            for name, value in {
                **env,
                "SNUPER_RDS_SSLMODE": "disable",
                "SNUPER_SINK": "rds",
                "SNUPER_RDS_TABLE": TABLE,
            }.items():
                monkeypatch.setenv(name, value)
            async with simulators(monkeypatch):
                result = await invoke(handlers.scrape, load_event("scrape-one.json"), SCRAPE)
    finally:
        # The cached secret and its client (bound to moto) go with the test (untyped upstream).
        clear_caches()  # type: ignore[no-untyped-call]
    assert [r["status"] for r in result["results"]] == ["written"]
    with psycopg.connect(pg_uri.replace("+psycopg", "")) as conn:
        rows = conn.execute(f"SELECT league FROM {TABLE}_snapshots").fetchall()
    assert rows == [("nba",)]
    out = capsys.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records) + out.out + out.err
    assert "postgres:***@127.0.0.1" in logged  # the line naming the database, redacted
    assert password not in logged + orjson.dumps(result).decode() and "pa%3Ass" not in logged


async def test_in_lambda_chromium_gets_the_lambda_flags_and_a_temporary_profile(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    from snuper.aws import environment
    from snuper.config import LAMBDA_BROWSER_ARGS

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", SCRAPE)
    settings = environment.settings()
    assert set(LAMBDA_BROWSER_ARGS) <= set(settings.browser_args)
    assert settings.browser_temp_profile
    # The same scrape runs with them (Chromium as one process, its profile in a temp folder).
    async with simulators(monkeypatch):
        result = await invoke(handlers.scrape, load_event("scrape-one.json"), SCRAPE)
    assert [r["status"] for r in result["results"]] == ["written"]
