"""Real services for sink tests: a database of its own in the machine's PostgreSQL, a Redis db of
its own, and a bucket of its own in moto's S3 server (one server per session, on a loopback port).
Each fixture removes what it made. `.ci/run` starts PostgreSQL and Redis when they are down."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
import redis

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Redis keeps 16 dbs; tests take them from the top, so a developer's db 0 is never touched.
_REDIS_DBS = range(15, 0, -1)
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def pg_database_uri(name: str, *, host: str = "127.0.0.1", port: int = 5432) -> str:
    return f"postgresql+psycopg://postgres@{host}:{port}/{name}"


@pytest.fixture
def pg_uri() -> Iterator[str]:
    """A fresh database; its SQLAlchemy URI. Dropped afterwards (with its connections)."""
    name = f"snuper_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_database_uri(name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_uri() -> Iterator[str]:
    """An empty Redis db of its own (flushed afterwards); its redis:// URI."""
    for db in _REDIS_DBS:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        # A marker key claims the db, so tests running side by side never share one.
        if client.dbsize() == 0 and client.set("snuper:test:owner", str(os.getpid()), nx=True):
            try:
                yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    raise RuntimeError("no empty Redis db left for this test")


@dataclass(frozen=True)
class S3Place:
    endpoint: str  # AWS_ENDPOINT_URL_S3 for this server
    bucket: str
    env: dict[str, str]  # what a subprocess (the CLI) needs to reach it


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 in server mode on a free loopback port; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_place(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Place]:
    """A bucket of its own in the moto server, with this process's AWS environment pointed at
    it; the bucket and everything in it is removed afterwards."""
    import boto3

    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL_S3": s3_server}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bucket = f"snuper-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    try:
        yield S3Place(s3_server, bucket, env)
    finally:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
