"""How ClickHouse signs its s3() writes, on the real stack. "environment": no key is bound to the query
and every request ClickHouse sends is signed by its own credential chain (here its process environment,
as a server's role would be). "keys": the aws_default keys are bound as query parameters. A proxy in
front of the S3 server reads the access key id that signed each request."""

from __future__ import annotations

import json

import pytest
from duckling_helpers import DAYS

from backfill import sql as sqlt
from backfill.duckling.credentials import S3_KEY_ARGS, S3Access
from backfill.duckling.export import export_partition
from backfill.duckling.params import parse_params
from backfill.duckling.plan import item
from backfill.duckling.register import register_partition
from backfill.duckling.run import Env, RunInfo
from devtools.faultproxy import FaultProxy

CLICKHOUSE_ROLE_KEY = "AKIACLICKHOUSEROLE01"


@pytest.fixture
def signed(s3, connections, monkeypatch):
    """aws_default through a signer-reading proxy; ClickHouse's own credentials in its environment."""
    proxy = FaultProxy(s3.port).start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_SIGNED",
        json.dumps(
            {
                "conn_type": "aws",
                "login": s3.access_key,
                "password": s3.secret_key,
                "extra": {"endpoint_url": proxy.endpoint, "region_name": s3.region},
            }
        ),
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CLICKHOUSE_ROLE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "clickhouse-role-secret")
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("mode", ["environment", "keys"])
def test_clickhouse_signs_its_writes_as_the_deployment_chose(env, signed, s3, demo_data, make_duckling, mode):
    team, day = 11, DAYS[0]
    duckling = make_duckling(team)
    env = Env(ch=env.ch, db=env.db, aws_conn_id="aws_signed", clickhouse_s3_auth=mode)
    run = RunInfo("duckling_backfill", f"auth-{mode}")
    options = parse_params({})
    signed.signers.clear()
    exported = export_partition(item(team, day, "events", "auth"), options, run, env)
    assert exported["status"] == "exported" and exported["source_count"] > 0
    clickhouse_signers = set(signed.signers)  # only ClickHouse talked to S3 during the export
    expected = CLICKHOUSE_ROLE_KEY if mode == "environment" else s3.access_key
    assert clickhouse_signers == {expected}
    # the file is really there, and the lake registers it with the worker's own keys as before
    out = register_partition(exported, options, run, env)
    assert out["status"] == "done"
    key = exported["files"][0].split(f"s3://{duckling['bucket']}/", 1)[1]
    assert s3.client().head_object(Bucket=duckling["bucket"], Key=key)["ContentLength"] > 0


def test_environment_mode_binds_no_key():
    access = S3Access("AKIAWORKERKEY", "worker-secret", "token", clickhouse_auth="environment")
    for name in ("duckling/export_events", "duckling/export_persons", "duckling/export_person_distinct_ids"):
        assert S3_KEY_ARGS in sqlt.load(name).text, name  # every s3() call is written with its keys
        tpl = access.clickhouse_template(name)
        assert not {"key_id", "secret", "session_token"} & set(tpl.placeholders), name
        assert "s3({url:String}, 'Parquet')" in tpl.text, name
    assert access.clickhouse_params() == {}
    keys = S3Access("AKIAWORKERKEY", "worker-secret", "token")
    assert keys.clickhouse_params() == {
        "key_id": "AKIAWORKERKEY",
        "secret": "worker-secret",
        "session_token": "token",
    }
