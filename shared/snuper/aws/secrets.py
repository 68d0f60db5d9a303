"""The PostgreSQL URI of the rds sink: SNUPER_RDS_URI as given, or built from the RDS master
user's secret (ManageMasterUserPassword: `{"username", "password"}` in Secrets Manager) and
SNUPER_RDS_HOST / _PORT / _DBNAME. The secret is read through Powertools Parameters, which caches
it (a warm Lambda does not call Secrets Manager on every invocation; a rotated password is seen
within the cache's age). The password never reaches a log line: errors name the secret, not it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote

URI_VAR = "SNUPER_RDS_URI"
SECRET_VAR = "SNUPER_RDS_SECRET_ARN"
HOST_VAR = "SNUPER_RDS_HOST"
PORT_VAR = "SNUPER_RDS_PORT"
DBNAME_VAR = "SNUPER_RDS_DBNAME"
# TLS to RDS by default; a local PostgreSQL without TLS (tests) says "disable" or "prefer".
SSLMODE_VAR = "SNUPER_RDS_SSLMODE"
MAX_AGE_VAR = "POWERTOOLS_PARAMETERS_MAX_AGE"
DEFAULT_MAX_AGE_S = 300
DEFAULT_DBNAME = "snuper"


class SecretError(ValueError):
    """The secret or the variables beside it cannot make a URI; the message names which."""


def rds_uri(env: Mapping[str, str] | None = None) -> str | None:
    """SNUPER_RDS_URI when set (it wins), else the URI built from the secret, else None."""
    env = os.environ if env is None else env
    if env.get(URI_VAR):
        return env[URI_VAR]
    arn = env.get(SECRET_VAR)
    if not arn:
        return None
    host = env.get(HOST_VAR)
    if not host:
        raise SecretError(f"environment variable {HOST_VAR}: required with {SECRET_VAR}")
    port = env.get(PORT_VAR) or "5432"
    if not port.isdigit():
        raise SecretError(f"environment variable {PORT_VAR}: not a port number: {port!r}")
    user, password = _credentials(arn, _max_age(env))
    dbname = env.get(DBNAME_VAR) or DEFAULT_DBNAME
    sslmode = env.get(SSLMODE_VAR) or "require"
    # Quoted: generated passwords hold characters that mean something in a URI (@ : / ?).
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"postgresql+psycopg://{auth}@{host}:{port}/{quote(dbname)}?sslmode={sslmode}"


def _credentials(arn: str, max_age: int) -> tuple[str, str]:
    from aws_lambda_powertools.utilities.parameters import get_secret  # boto3: only when used
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    try:
        value = get_secret(arn, transform="json", max_age=max_age)
    except TransformParameterError:
        raise SecretError(f"secret {arn}: not a JSON object") from None
    except GetParameterError as exc:
        raise SecretError(f"secret {arn}: cannot read it: {exc}") from None
    if not isinstance(value, dict):
        raise SecretError(f"secret {arn}: not a JSON object")
    user, password = value.get("username"), value.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str):
        raise SecretError(f"secret {arn}: expected the keys username and password")
    return user, password


def _max_age(env: Mapping[str, str]) -> int:
    text = env.get(MAX_AGE_VAR) or str(DEFAULT_MAX_AGE_S)
    if not text.isdigit():
        raise SecretError(f"environment variable {MAX_AGE_VAR}: not whole seconds: {text!r}")
    return int(text)
