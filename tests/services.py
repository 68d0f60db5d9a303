"""Real services for sink tests: a database of its own in the machine's PostgreSQL, a Redis db of
its own, and a bucket of its own in moto's S3 server (one server per session, on a loopback port).
Each fixture removes what it made. `.ci/run` starts PostgreSQL and Redis when they are down."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


# -- throwaway servers a test can stop and start again (outages) ----------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, up: bool, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            reachable = sock.connect_ex(("127.0.0.1", port)) == 0
        if reachable == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'} in {timeout}s")


class ThrowawayRedis:
    """A redis-server of its own on a free port, persisting to its own folder (AOF, fsync
    always) so that what it took before a stop is there after the start."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.uri = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_port(self.port, up=True)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()  # SIGTERM: redis syncs its AOF and exits
            self._process.wait(20)
            self._process = None
        _wait_port(self.port, up=False)


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (initdb) on a free port, run as the postgres user when
    the tests run as root (PostgreSQL refuses root)."""

    def __init__(self) -> None:
        # Not under pytest's tmp folder: the postgres user cannot enter root's 0700 folders.
        self.folder = Path(tempfile.mkdtemp(prefix="snuper-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.uri = pg_database_uri("postgres", port=self.port)
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        self.bin = bins[-1] if bins else Path(shutil.which("initdb") or "initdb").parent
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            self.folder.chmod(0o755)
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bin / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        _wait_port(self.port, up=False)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()
