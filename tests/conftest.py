"""Fixtures every test folder may use: the real services (tests/services.py)."""

from tests.services import (
    pg_uri,
    redis_uri,
    s3_place,
    s3_server,
    throwaway_postgres,
    throwaway_redis,
)

__all__ = ["pg_uri", "redis_uri", "s3_place", "s3_server", "throwaway_postgres", "throwaway_redis"]
