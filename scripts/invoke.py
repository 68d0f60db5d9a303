"""Run a Lambda handler as Lambda calls it, on a machine without Docker (`make invoke`).

    make invoke FUNCTION=ScrapeFunction EVENT=events/scrape-one.json
    .venv/bin/python scripts/invoke.py PlanMonitorsFunction events/plan-monitors.json

The environment comes from env.json in SAM's --env-vars format (a section per function, and an
optional "Parameters" section for all). Unless it points elsewhere, the script serves what the
function needs beside it: the simulators (when no SNUPER_<PROVIDER>_* endpoint is set) and
moto's S3 in memory (when SNUPER_SINK has s3 and AWS_ENDPOINT_URL_S3 is not set), and creates
the local PostgreSQL database named by SNUPER_RDS_URI if it is missing. The handler gets the event
and a context object; its log lines and metrics go to stderr, its result to stdout as JSON (or
Lambda's {"errorType", "errorMessage"} and exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Function:
    module: str
    timeout_s: float
    memory_mb: int
    reads_books: bool  # needs the books' endpoints (the simulators)


# logical id in template.yaml -> its handler and settings
FUNCTIONS = {
    "ScrapeFunction": Function("functions.scrape.app", 900.0, 2048, reads_books=True),
    "PlanMonitorsFunction": Function("functions.plan_monitors.app", 60.0, 256, reads_books=False),
}
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def load_env(path: Path, function: str) -> dict[str, str]:
    """The "Parameters" section, then the function's own (SAM's --env-vars format)."""
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SystemExit(f"invoke: cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise SystemExit(f"invoke: {path}: expected a JSON object of sections")
    env: dict[str, str] = {}
    for section in ("Parameters", function):
        values = document.get(section) or {}
        env.update({str(k): str(v) for k, v in values.items() if v is not None})
    return env


def sim_wanted(env: Mapping[str, str]) -> bool:
    """No endpoint of any book points anywhere: serve the simulators."""
    from snuper.config import endpoint_var
    from snuper.providers import PROVIDERS

    return not any(
        env.get(endpoint_var(p.name, name))
        for p in PROVIDERS.values()
        for name in p.endpoint_defaults
    )


@contextlib.contextmanager
def simulators() -> Iterator[dict[str, str]]:
    """Every book's simulator on a loopback port, on a thread of its own (the handler runs its
    own event loop, as in Lambda); the SNUPER_<PROVIDER>_* variables that point at it. It serves
    the slate of SNUPER_NOW when set, else today's."""
    from snuper.config import Settings
    from snuper.sim.options import SimOptions
    from snuper.sim.server import start_sim
    from snuper.slate import slate_day

    start_at = Settings.from_env().start_at
    options = SimOptions(slate_day=slate_day(start_at) if start_at else None)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="simulators", daemon=True)
    thread.start()
    running = asyncio.run_coroutine_threadsafe(start_sim(options), loop).result(30)
    print(f"invoke: simulators on {running.base_url}", file=sys.stderr)
    try:
        yield running.exports
    finally:
        asyncio.run_coroutine_threadsafe(running.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def moto_s3(bucket: str) -> Iterator[dict[str, str]]:
    """moto's S3 server on a loopback port, with the bucket made; in memory: what the function
    wrote is listed on stderr at the end, then gone."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL_S3": f"http://{host}:{port}"}
    if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
        env.update(MOTO_ENV)  # moto takes any credentials; boto3 wants some
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_bucket(Bucket=bucket)
    print(f"invoke: moto S3 on {env['AWS_ENDPOINT_URL_S3']}, bucket {bucket}", file=sys.stderr)
    try:
        yield env
    finally:
        listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        keys = "".join(f"\n  s3://{bucket}/{obj['Key']}" for obj in listed)
        print(f"invoke: moto S3 held (in memory, now gone): {len(listed)} objects{keys}",
              file=sys.stderr)  # fmt: skip
        server.stop()


def ensure_local_database(uri: str) -> None:
    """CREATE DATABASE for a URI on this machine whose database is missing (first run)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    if url.host not in ("127.0.0.1", "localhost", "::1") or not url.database:
        return
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
        if found.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
            print(f"invoke: created database {url.database}", file=sys.stderr)


def call(function: str, event: Any) -> tuple[int, Any]:
    """Import the handler (a cold start) and call it with the event and a context. Logs and
    metrics (Powertools writes them to stdout, as Lambda would) go to stderr."""
    from snuper.aws.context import LocalContext

    spec = FUNCTIONS[function]
    context = LocalContext(function, spec.timeout_s, spec.memory_mb)
    with contextlib.redirect_stdout(sys.stderr):
        handler = importlib.import_module(spec.module).handler
        try:
            return 0, handler(event, context)
        except Exception as exc:  # what Lambda returns for an error
            return 1, {"errorType": type(exc).__name__, "errorMessage": str(exc)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("function", choices=tuple(FUNCTIONS), help="logical id in template.yaml")
    parser.add_argument("event", type=Path, help="event JSON file, e.g. events/scrape-one.json")
    parser.add_argument("--env-vars", type=Path, default=ROOT / "env.json", metavar="FILE",
                        help="SAM --env-vars file (default: env.json)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        event = orjson.loads(args.event.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        parser.error(f"cannot read the event {args.event}: {exc}")
    os.environ.update(load_env(args.env_vars, args.function))
    sys.path.insert(0, str(ROOT))  # the functions package
    with contextlib.ExitStack() as services:
        if FUNCTIONS[args.function].reads_books and sim_wanted(os.environ):
            os.environ.update(services.enter_context(simulators()))
        sinks = os.environ.get("SNUPER_SINK", "fs").split(",")
        if "s3" in sinks and not os.environ.get("AWS_ENDPOINT_URL_S3"):
            bucket = os.environ.get("SNUPER_S3_BUCKET") or "snuper-local"
            os.environ.update(services.enter_context(moto_s3(bucket)))
        if "rds" in sinks and os.environ.get("SNUPER_RDS_URI"):
            ensure_local_database(os.environ["SNUPER_RDS_URI"])
        code, result = call(args.function, event)
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
