"""The service fixtures give each test a place of its own that works."""

from __future__ import annotations

import boto3
import redis
import sqlalchemy

from tests.services import S3Place


def test_database_of_its_own(pg_uri: str) -> None:
    engine = sqlalchemy.create_engine(pg_uri)
    with engine.connect() as conn:
        name = conn.execute(sqlalchemy.text("select current_database()")).scalar_one()
    engine.dispose()
    assert name.startswith("snuper_test_") and name in pg_uri


def test_redis_db_of_its_own(redis_uri: str) -> None:
    client = redis.Redis.from_url(redis_uri)
    assert client.keys("*") == [b"snuper:test:owner"]
    client.close()


def test_bucket_of_its_own(s3_place: S3Place) -> None:
    client = boto3.client("s3")
    client.put_object(Bucket=s3_place.bucket, Key="a", Body=b"x")
    assert client.get_object(Bucket=s3_place.bucket, Key="a")["Body"].read() == b"x"
