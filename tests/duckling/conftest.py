"""Fixtures for the duckling tests: one duckling per team on the real PostgreSQL (catalog in its own
database), the moto S3 server (its own bucket) and chdb; helpers to run a partition end to end."""

from __future__ import annotations

import uuid

import pytest
from duckling_helpers import SPEC

from backfill.duckling.registry import Registry
from backfill.duckling.run import Env
from devtools.demo_data import generate


@pytest.fixture
def env(clickhouse, appdb, connections):
    return Env(ch=clickhouse, db=appdb)


@pytest.fixture
def demo_data(clickhouse):
    generate(clickhouse, SPEC)
    return SPEC


@pytest.fixture
def make_duckling(pg, s3, appdb):
    """Register a remote-form duckling for a team: a fresh catalog database and a fresh bucket."""

    def make(team_id: int, **overrides):
        suffix = uuid.uuid4().hex[:8]
        dbname = f"lake_{team_id}_{suffix}"
        bucket = f"duckling-{team_id}-{suffix}"
        pg.create_database(dbname)
        s3.client().create_bucket(Bucket=bucket)
        row = dict(
            team_id=team_id,
            bucket=bucket,
            bucket_region="us-east-1",
            db_host="127.0.0.1",
            db_port=pg.port,
            db_database=dbname,
            db_username="postgres",
            db_password=None,
            db_password_conn_id=None,
            cross_account_role_arn=None,
            cross_account_external_id=None,
            catalog_path=None,
        )
        row.update(overrides)
        Registry(appdb).upsert(**row)
        return row

    return make
