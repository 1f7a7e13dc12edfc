"""Production connections over TLS, against a PostgreSQL started with TLS only (``hostssl`` rules: a
plain connection is refused, so anything that connects proves it used TLS) and a throwaway certificate
authority made by the test: the app DB through the postgres provider's connection (its extras reach the
driver) and a duckling catalog whose registry row asks for ``sslmode=verify-full``. A certificate from
another authority fails with a clear error naming the team."""

from __future__ import annotations

import json
import uuid

import pytest
from duckling_helpers import DAYS, ch_day_counts, lake_day_counts, run_partition

from backfill.appdb import AppDB
from backfill.duckling.errors import DucklingError, RegistryError
from backfill.duckling.registry import Duckling, Registry
from devtools import localstack, tls


@pytest.fixture(scope="module")
def tls_pg(tmp_path_factory):
    certs = tmp_path_factory.mktemp("certs")
    authority = tls.make_authority(certs, "backfill-test-ca")
    other = tls.make_authority(certs, "someone-elses-ca")
    server = localstack.start_postgres(
        tmp_path_factory.mktemp("pg-tls"), tls=tls.make_server_cert(certs, authority)
    )
    yield server, authority.cert_file, other.cert_file
    server.stop()


def _app_conn(monkeypatch, port: int, rootcert) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TLS_APP", json.dumps({
        "conn_type": "postgres", "host": "localhost", "port": port, "login": "postgres", "schema": "postgres",
        "extra": {"sslmode": "verify-full", "sslrootcert": str(rootcert), "application_name": "backfill-tls"},
    }))  # fmt: skip


def test_the_app_db_connection_carries_its_tls_extras_to_the_driver(tls_pg, monkeypatch):
    server, ca, other = tls_pg
    _app_conn(monkeypatch, server.port, ca)
    with AppDB.from_conn_id("tls_app") as db, db.engine.connect() as conn:
        ssl, app = conn.exec_driver_sql(
            "SELECT s.ssl, a.application_name FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
            "WHERE pid = pg_backend_pid()"
        ).one()
    assert ssl is True and app == "backfill-tls"  # both extras reached psycopg

    _app_conn(monkeypatch, server.port, other)  # the server's certificate is not from this authority
    with AppDB.from_conn_id("tls_app") as db, pytest.raises(Exception, match="certificate verify failed"):
        db.engine.connect()


@pytest.fixture
def tls_duckling(tls_pg, s3, appdb):
    server, ca, other = tls_pg

    def make(team_id: int, rootcert) -> None:
        suffix = uuid.uuid4().hex[:8]
        dbname, bucket = f"lake_{team_id}_{suffix}", f"duckling-{team_id}-{suffix}"
        server.create_database(dbname)
        s3.client().create_bucket(Bucket=bucket)
        Registry(appdb).upsert(
            team_id=team_id, bucket=bucket, bucket_region="us-east-1", db_host="localhost", db_port=server.port,
            db_database=dbname, db_username="postgres", db_sslmode="verify-full", db_sslrootcert=str(rootcert),
        )  # fmt: skip

    return make, ca, other


def test_a_catalog_row_with_verify_full_registers_over_tls(env, demo_data, tls_duckling):
    make, ca, other = tls_duckling
    make(11, ca)
    run_partition(env, 11, DAYS[0])
    assert lake_day_counts(env, 11)[DAYS[0]] == ch_day_counts(env, 11)[DAYS[0]] > 0

    make(12, other)
    with pytest.raises(DucklingError) as failed:
        run_partition(env, 12, DAYS[0])
    message = str(failed.value)
    assert message.startswith("team 12") and "cannot attach DuckLake catalog" in message
    assert "certificate verify failed" in message


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("db_sslmode", "verify", "is not one of disable, allow, prefer, require, verify-ca, verify-full"),
        ("db_sslrootcert", "certs/ca.pem", "must be an absolute file path or 'system'"),
        ("db_sslrootcert", "/etc/ca.pem' sslmode='disable", "must be an absolute file path or 'system'"),
    ],
)
def test_a_bad_tls_field_is_refused_naming_it(field, value, says):
    row = dict(team_id=5, bucket="b-5-bucket", db_host="db.internal", db_port=5432, db_database="lake",
               db_username="lake")  # fmt: skip
    with pytest.raises(RegistryError, match=f"team 5: invalid duckling_registry row: {field} .*{says}"):
        Duckling(**row, **{field: value}).validate()
