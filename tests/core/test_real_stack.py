"""Each real component is real: chdb writes Parquet to the S3 server, DuckDB reads it back, a DuckLake
catalog on the PostgreSQL server registers it, and STS credentials from the S3 server work for S3."""

from __future__ import annotations

import json

import pytest

from backfill import duckdb_conn
from backfill import sql as sqlt
from devtools import demo_data as demo
from devtools import localstack

WRITE_PARQUET = sqlt.Template(
    "test_write_parquet",
    """INSERT INTO FUNCTION s3({url:String}, {key:String}, {secret:String}, 'Parquet')
       SELECT uuid, event, timestamp, team_id FROM events WHERE team_id = {team_id:Int64}""",
)
COUNT_TEAM = sqlt.Template("count", "SELECT count() AS n FROM events WHERE team_id = {team_id:Int64}")


def _duck_with_s3(s3, token: str | None = None, key: str | None = None, secret: str | None = None):
    con = duckdb_conn.connect()
    con.execute(
        "CREATE SECRET s3_test (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, URL_STYLE 'path', "
        "USE_SSL false" + (", SESSION_TOKEN ?)" if token else ")"),
        [key or s3.access_key, secret or s3.secret_key, s3.region, f"127.0.0.1:{s3.port}"]
        + ([token] if token else []),
    )
    return con


@pytest.fixture(scope="module")
def exported(clickhouse_session, s3):
    ch = clickhouse_session
    demo.generate(ch, demo.DemoSpec(team_ids=(5,), days=2, sessions_per_day=30, persons_per_team=10))
    s3.client().create_bucket(Bucket="stack-test")
    ch.query(
        WRITE_PARQUET,
        {
            "url": f"{s3.endpoint}/stack-test/events/team_5.parquet",
            "key": s3.access_key,
            "secret": s3.secret_key,
            "team_id": 5,
        },
    )
    return ch.scalar(COUNT_TEAM, {"team_id": 5})


def test_chdb_parquet_on_s3_is_read_back_by_duckdb(exported, s3):
    con = _duck_with_s3(s3)
    rows = con.execute(
        "SELECT count(*), count(DISTINCT uuid), typeof(any_value(uuid)), typeof(any_value(timestamp)) "
        "FROM read_parquet('s3://stack-test/events/team_5.parquet')"
    ).fetchone()
    assert rows[0] == exported > 0
    assert rows[1] == exported
    assert rows[2] == "UUID"
    assert rows[3] == "TIMESTAMP WITH TIME ZONE"


def test_ducklake_catalog_on_postgres_registers_the_file(exported, s3, pg):
    pg.create_database("stack_catalog")
    con = _duck_with_s3(s3)
    con.execute(
        f"ATTACH 'ducklake:postgres:{pg.conninfo('stack_catalog')}' AS lake (DATA_PATH 's3://stack-test/lake/')"
    )
    con.execute("CREATE TABLE lake.events (uuid UUID, event VARCHAR, timestamp TIMESTAMPTZ, team_id BIGINT)")
    con.execute("CALL ducklake_add_data_files('lake', 'events', 's3://stack-test/events/team_5.parquet')")
    assert con.execute("SELECT count(*) FROM lake.events WHERE team_id = 5").fetchone()[0] == exported
    # the catalog lives in PostgreSQL: a second, fresh DuckDB sees the same table through it
    other = _duck_with_s3(s3)
    other.execute(
        f"ATTACH 'ducklake:postgres:{pg.conninfo('stack_catalog')}' AS lake (DATA_PATH 's3://stack-test/lake/')"
    )
    assert other.execute("SELECT count(*) FROM lake.events").fetchone()[0] == exported
    import psycopg

    with psycopg.connect(pg.conninfo("stack_catalog")) as conn:
        paths = [r[0] for r in conn.execute("SELECT path FROM ducklake_data_file")]
    assert any(p.endswith("team_5.parquet") for p in paths), paths


@pytest.fixture(scope="module")
def s3_with_auth(tmp_path_factory):
    """A second moto server with IAM checks on (after 3 unauthenticated setup calls)."""
    server = localstack.start_moto(
        tmp_path_factory.mktemp("moto-auth") / "moto.log", env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    )
    yield server
    server.stop()


def test_sts_credentials_work_and_a_wrong_key_fails(s3_with_auth):
    s3 = s3_with_auth
    iam = s3.client("iam")
    iam.create_user(UserName="backfill")  # unauthenticated setup call 1
    key = iam.create_access_key(UserName="backfill")["AccessKey"]  # 2
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="backfill", PolicyName="all", PolicyDocument=json.dumps(policy))  # 3
    good = dict(key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    s3.client("s3", **good).create_bucket(Bucket="sts-test")
    role = s3.client("iam", **good).create_role(
        RoleName="duckling", AssumeRolePolicyDocument=json.dumps(policy)
    )["Role"]
    s3.client("iam", **good).put_role_policy(
        RoleName="duckling", PolicyName="all", PolicyDocument=json.dumps(policy)
    )
    creds = s3.client("sts", **good).assume_role(
        RoleArn=role["Arn"], RoleSessionName="backfill-test", ExternalId="ext-123"
    )["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assumed = s3.client(
        "s3", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    assumed.put_object(Bucket="sts-test", Key="hello.txt", Body=b"hi")
    assert assumed.get_object(Bucket="sts-test", Key="hello.txt")["Body"].read() == b"hi"

    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        s3.client("s3", key="AKIAWRONGWRONGWRONG1", secret="wrong").list_objects_v2(Bucket="sts-test")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
