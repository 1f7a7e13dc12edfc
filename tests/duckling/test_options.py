"""Each run option shows its effect; bad params and bad registry rows fail clearly and write nothing."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os

import pytest
from duckling_helpers import DAYS, ch_day_counts, lake_day_counts, lake_query, run_partition, s3_keys

from backfill.duckling.credentials import access_for
from backfill.duckling.detect import detect_daily
from backfill.duckling.errors import DucklingError, RegistryError, SchemaError
from backfill.duckling.export import export_partition
from backfill.duckling.lake import CatalogBusyError, open_lake
from backfill.duckling.params import RunParams, parse_params
from backfill.duckling.plan import item
from backfill.duckling.registry import Registry
from backfill.duckling.report import report
from backfill.duckling.run import RunInfo
from backfill.ledger import EXPORTED
from backfill.params import ParamsError

TODAY = dt.date(2024, 3, 10)
RUN = RunInfo("duckling_backfill", "manual__opts")


def _nothing_written(env, team):
    assert env.ledger.rows("duckling") == []
    assert s3_keys(env, team, prefix="") == []


def test_dry_run_plans_and_writes_nothing(env, demo_data, make_duckling):
    make_duckling(11)
    plan = detect_daily(
        {"start_date": "2024-03-01", "end_date": "2024-03-02", "dry_run": True},
        RUN,
        env,
        today=TODAY,
    )
    assert plan["items"] == []
    assert plan["summary"]["would_do"] == [  # a team's persons first (fairness under a cap), then events
        "team 11 · 2024-03-01 · persons",
        "team 11 · 2024-03-02 · persons",
        "team 11 · 2024-03-01 · events",
        "team 11 · 2024-03-02 · events",
    ]
    rep = report(plan["summary"], RunParams(dry_run=True), RUN, env)
    assert rep["rows"] == [] and len(rep["would_do"]) == 4
    _nothing_written(env, 11)


def test_skip_ducklake_registration_exports_only_and_files_are_not_orphans(env, demo_data, make_duckling):
    make_duckling(11)
    opts = RunParams(skip_ducklake_registration=True)
    out = run_partition(env, 11, DAYS[0], options=opts, run_id=RUN.run_id)
    assert out["status"] == "exported_only" and len(out["files"]) == 1
    row = env.ledger.rows("duckling", team_ids=[11])[0]
    assert row["status"] == EXPORTED and json.loads(row["files"]) == out["files"]
    assert lake_query(env, 11, "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake'") == [(0,)]
    summary = {
        "mode": "daily",
        "items": [item(11, DAYS[0], "events", "t")],
        "in_progress": [],
        "deferred_over_cap": 0,
    }
    rep = report(summary, opts, RUN, env)
    assert rep["orphans_removed"] == [] and len(s3_keys(env, 11)) == 1
    assert any("not registered" in w for w in rep["warnings"])


def _make_events_table(env, team, ddl):
    duckling = Registry(env.db).get(team)
    with open_lake(duckling, access_for(duckling)) as lake:
        lake.con.execute(ddl)


def test_schema_check_and_skip_schema_validation(env, demo_data, make_duckling):
    make_duckling(11)
    _make_events_table(
        env,
        11,
        "CREATE TABLE lake.main.events (uuid UUID, event VARCHAR, properties INTEGER, "
        "timestamp TIMESTAMPTZ, team_id BIGINT)",
    )
    with pytest.raises(
        SchemaError, match=r"team 11 day 2024-03-01: lake table events .*properties has type INTEGER"
    ):
        run_partition(env, 11, DAYS[0])
    assert lake_day_counts(env, 11) == {}
    # skipped: the check does not run, DuckLake itself refuses the file's types
    with pytest.raises(DucklingError) as exc:
        run_partition(env, 11, DAYS[0], run_id="r2", options=RunParams(skip_schema_validation=True))
    assert "has type INTEGER" not in str(exc.value) and "team 11 day 2024-03-01" in str(exc.value)


def test_missing_key_column_fails_and_missing_nullable_is_tolerated(env, demo_data, make_duckling):
    make_duckling(11)
    _make_events_table(
        env, 11, "CREATE TABLE lake.main.events (event VARCHAR, timestamp TIMESTAMPTZ, team_id BIGINT)"
    )
    with pytest.raises(SchemaError, match="key column uuid is missing"):
        run_partition(env, 11, DAYS[0])
    make_duckling(12)  # lake table without some nullable columns, plus an extra one: both tolerated
    _make_events_table(
        env,
        12,
        "CREATE TABLE lake.main.events (uuid UUID, timestamp TIMESTAMPTZ, team_id BIGINT, "
        "event VARCHAR, note VARCHAR)",
    )
    run_partition(env, 12, DAYS[0])
    assert lake_day_counts(env, 12) == {DAYS[0]: ch_day_counts(env, 12)[DAYS[0]]}
    assert lake_query(env, 12, "SELECT count(note) FROM lake.main.events") == [(0,)]


def test_cleanup_existing_partition_data_false_appends(env, demo_data, make_duckling):
    make_duckling(11)
    opts = RunParams(cleanup_existing_partition_data=False)
    n = run_partition(env, 11, DAYS[0], run_id="r1", options=opts)["source_count"]
    run_partition(env, 11, DAYS[0], run_id=RUN.run_id, options=opts)  # the run that reports
    rows = lake_query(env, 11, "SELECT count(*), count(DISTINCT uuid) FROM lake.main.events")
    assert rows == [(2 * n, n)]  # two copies: the guarantee is given up, and the report says so
    summary = {
        "mode": "daily",
        "items": [item(11, DAYS[0], "events", "t")],
        "in_progress": [],
        "deferred_over_cap": 0,
    }
    assert any("one-copy guarantee is given up" in w for w in report(summary, opts, RUN, env)["warnings"])


def test_create_tables_if_missing_false(env, demo_data, make_duckling):
    make_duckling(11)
    with pytest.raises(SchemaError, match="does not exist and create_tables_if_missing is false"):
        run_partition(env, 11, DAYS[0], options=RunParams(create_tables_if_missing=False))
    run_partition(env, 11, DAYS[0], run_id="r2")  # default creates
    run_partition(env, 11, DAYS[1], run_id="r3", options=RunParams(create_tables_if_missing=False))
    assert set(lake_day_counts(env, 11)) == {DAYS[0], DAYS[1]}


def test_delete_tables_needs_team_ids_and_resets_only_those(env, demo_data, make_duckling):
    with pytest.raises(ParamsError, match="needs team_ids"):
        parse_params({"delete_tables": True})
    for team in (11, 12):
        make_duckling(team)
        run_partition(env, team, DAYS[0])
    plan = detect_daily(
        {"team_ids": [11], "delete_tables": True, "start_date": "2024-03-02"}, RUN, env, today=TODAY
    )
    assert lake_day_counts(env, 11) == {}
    assert lake_day_counts(env, 12) == {DAYS[0]: ch_day_counts(env, 12)[DAYS[0]]}
    assert env.ledger.rows("duckling", team_ids=[11]) == []
    assert [i["label"] for i in plan["items"]] == [
        "team 11 · 2024-03-02 · persons",
        "team 11 · 2024-03-02 · events",
    ]


def test_clickhouse_settings_allowlist_and_effect(env, demo_data, make_duckling):
    for bad, why in (
        ({"session_timezone": "Europe/Berlin"}, "UTC"),
        ({"s3_truncate_on_insert": 1}, "overwrite"),
        ({"readonly": 1}, "not allowed"),
        ({"max_threads": "many"}, "number"),
    ):
        with pytest.raises(ParamsError, match=why):
            parse_params({"clickhouse_settings": bad})
    make_duckling(11)
    opts = parse_params({"clickhouse_settings": {"max_memory_usage": 1}})
    with pytest.raises(
        DucklingError, match=r"team 11 day 2024-03-01: export events failed: .*MEMORY_LIMIT_EXCEEDED"
    ):
        run_partition(env, 11, DAYS[0], options=opts)
    assert s3_keys(env, 11) == []
    run_partition(
        env,
        11,
        DAYS[0],
        run_id="r2",
        options=parse_params({"clickhouse_settings": {"max_threads": 1}}),
    )
    assert lake_day_counts(env, 11) == {DAYS[0]: ch_day_counts(env, 11)[DAYS[0]]}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start_date": "2024-03-05", "end_date": "2024-03-01"}, "before start_date"),
        ({"end_date": "2024-03-10"}, "not a finished UTC day"),
        ({"start_date": "yesterday"}, "not a date"),
        ({"kinds": ["sessions"]}, "kinds"),
        ({"max_partitions": 5000}, "max_partitions"),
        ({"team_ids": [0]}, "team_ids"),
        ({"surprise": 1}, "unknown params"),
    ],
)
def test_bad_params_fail_before_writing(env, params, message):
    with pytest.raises(ParamsError, match=message):
        detect_daily(params, RUN, env, today=TODAY)
    assert env.ledger.rows("duckling") == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"bucket": "Bad_Bucket"}, "bucket 'Bad_Bucket' is not a valid S3 bucket name"),
        ({"db_port": 70000}, "db_port 70000 is not a port"),
        ({"db_database": "x; DROP"}, "db_database"),
        ({"cross_account_role_arn": "arn:nope"}, "cross_account_role_arn"),
    ],
)
def test_bad_registry_row_fails_its_partition_clearly_and_writes_no_data(
    env, demo_data, make_duckling, overrides, message
):
    row = make_duckling(11)
    Registry(env.db).upsert(**{**row, **overrides})
    with pytest.raises(RegistryError, match="team 11: invalid duckling_registry row: " + message.split()[0]):
        export_partition(item(11, DAYS[0], "events", "t"), RunParams(), RUN, env)
    # the partition was claimed first, so its failure is on its ledger row (the report fails on it)
    [failed] = env.ledger.rows("duckling")
    assert failed["status"] == "failed" and message.split()[0] in failed["error"]
    with pytest.raises(RegistryError, match="team 99: has no duckling_registry row"):
        export_partition(item(99, DAYS[0], "events", "t"), RunParams(), RUN, env)


def test_password_from_connection_and_masked(env, demo_data, make_duckling, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DUCKLING_PW", json.dumps({"conn_type": "postgres", "password": "s3cr3t-pw"})
    )
    make_duckling(11, db_password_conn_id="duckling_pw")
    run_partition(env, 11, DAYS[0])
    make_duckling(12, db_password="plain-pw-123", db_host="127.0.0.2")  # nothing listens there: attach fails
    with pytest.raises(DucklingError) as exc:
        run_partition(env, 12, DAYS[0])
    assert "plain-pw-123" not in str(exc.value) and "team 12" in str(exc.value)
    assert "plain-pw-123" not in repr(Registry(env.db).get(12))
    stored = env.ledger.rows("duckling", team_ids=[12])[0]["error"]
    assert "plain-pw-123" not in stored


PASSWORD = "pa'ss\\w%rd:x"  # a quote, a backslash, a percent sign and a colon
PASSWORD_FORMS = (PASSWORD, "pa\\'ss", "ss\\\\w", "w%rd:x", "pa''ss")  # raw, libpq- and SQL-escaped parts


@pytest.fixture
def password_role(pg):
    """A catalog role that must give its password (scram), whatever the test cluster's trust default."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'duckling_pw'").fetchone():
            conn.execute(sql.SQL("CREATE ROLE duckling_pw LOGIN PASSWORD {}").format(sql.Literal(PASSWORD)))
            hba = conn.execute("SHOW hba_file").fetchone()[0]
            rules = open(hba).read()
            with open(hba, "w") as f:
                f.write("host all duckling_pw 127.0.0.1/32 scram-sha-256\n" + rules)
            conn.execute("SELECT pg_reload_conf()")
    return "duckling_pw"


@pytest.mark.faults
def test_a_password_with_quote_backslash_percent_never_leaks(
    env, demo_data, make_duckling, password_role, pg, caplog, record_fault
):
    """The catalog password reaches libpq through a private passfile, never through the DSN: a password
    with ', \\, % and : attaches, and a failing attach (unknown database, wrong password) names the team
    and the cause in the error, the ledger row and the logs without any form of the password."""
    import psycopg
    from psycopg import sql

    from backfill.duckling.lake import redact

    row = make_duckling(11, db_username=password_role, db_password=PASSWORD)
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO duckling_pw").format(sql.Identifier(row["db_database"]))
        )
    run_partition(env, 11, DAYS[0])  # scram authentication with the password from the passfile
    assert lake_day_counts(env, 11) == {DAYS[0]: ch_day_counts(env, 11)[DAYS[0]]}

    make_duckling(12, db_username=password_role, db_password=PASSWORD, db_database="no_such_catalog")
    make_duckling(13, db_username=password_role, db_password=PASSWORD + "-wrong")
    for team, cause in ((12, "no_such_catalog"), (13, "password authentication failed")):
        with pytest.raises(DucklingError) as exc:
            run_partition(env, team, DAYS[0])
        [stored] = [r["error"] for r in env.ledger.rows("duckling", team_ids=[team]) if r["error"]]
        assert f"team {team}" in str(exc.value) and cause in str(exc.value)
        for text in (str(exc.value), stored, caplog.text):
            assert not [f for f in PASSWORD_FORMS if f in text], (team, text)

    from invariant import can_fail, check

    figures = check(env, [(11, DAYS[0])])
    leaked = sum(f in t for t in (caplog.text, stored) for f in PASSWORD_FORMS)
    record_fault("catalog password with ', \\, % and : (attach ok, failures redacted)", 3, figures.holds and not leaked,
                 figures.rows_lost, figures.duplicate_rows, figures.files_lost, figures.orphans_left, fired=2,
                 can_fail=can_fail(env, [(11, DAYS[0])]))  # fmt: skip
    # the redaction alone (for any message that still quotes a DSN): DuckDB's escaped form included
    quoted = "Unable to connect to Postgres at \"dbname=x user=u password='pa\\'ss\\\\w%rd:x'\": refused"
    assert not [f for f in PASSWORD_FORMS if f in redact(quoted, PASSWORD)]
    assert "password=***" in redact(quoted, None) and "refused" in redact(quoted, None)


def test_sts_assume_role(env, demo_data, make_duckling):
    make_duckling(
        11,
        cross_account_role_arn="arn:aws:iam::123456789012:role/duckling",
        cross_account_external_id="ext-11",
    )
    duckling = Registry(env.db).get(11)
    assert access_for(duckling).key_id.startswith("ASIA")
    # another account's bucket: ClickHouse signs with the STS keys even where the deployment chose its role
    cross = access_for(duckling, clickhouse_auth="environment")
    assert cross.clickhouse_auth == "keys" and cross.clickhouse_params()["key_id"].startswith("ASIA")
    run_partition(env, 11, DAYS[0])
    assert lake_day_counts(env, 11) == {DAYS[0]: ch_day_counts(env, 11)[DAYS[0]]}


def test_local_catalog_form_and_lock(env, demo_data, s3, tmp_path):
    from devtools.demo_ducklings import format_summary, register_demo_duckling, summary

    catalog = tmp_path / "lake" / "team11.ducklake"
    register_demo_duckling(env.db, 11, bucket="duckling-local-11", catalog_path=catalog)
    for day in DAYS:
        run_partition(env, 11, day)
    assert lake_day_counts(env, 11) == ch_day_counts(env, 11)
    rows = summary(env.db, [11])
    assert rows[0]["rows_exported"] == rows[0]["lake_events"] == sum(ch_day_counts(env, 11).values())
    assert "11" in format_summary(rows)
    fd = os.open(str(catalog) + ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        duckling = Registry(env.db).get(11)
        with pytest.raises(
            CatalogBusyError, match="team 11: local DuckLake catalog .* held by another process"
        ):
            with open_lake(duckling, access_for(duckling), lock_timeout_s=0.5):
                pass
    finally:
        os.close(fd)


def test_missing_bucket_fails_fast_with_coordinates(env, demo_data, make_duckling):
    row = make_duckling(11)
    Registry(env.db).upsert(**{**row, "bucket": "no-such-bucket-here"})
    import time

    started = time.monotonic()
    with pytest.raises(
        DucklingError, match=r"team 11 day 2024-03-01: export events failed: .*bucket does not exist"
    ):
        run_partition(env, 11, DAYS[0])
    assert time.monotonic() - started < 5  # permanent: not retried
    assert env.ledger.rows("duckling")[0]["status"] == "failed"
