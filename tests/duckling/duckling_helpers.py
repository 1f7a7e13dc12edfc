"""Helpers shared by the duckling tests (imported as a plain module: the test folder is on sys.path)."""

from __future__ import annotations

import datetime as dt

from backfill.duckling.credentials import access_for
from backfill.duckling.export import export_partition
from backfill.duckling.lake import open_lake
from backfill.duckling.params import RunParams
from backfill.duckling.plan import item
from backfill.duckling.register import register_partition
from backfill.duckling.registry import Registry
from backfill.duckling.run import RunInfo
from devtools.demo_data import DemoSpec

SPEC = DemoSpec(
    team_ids=(11, 12), start_day=dt.date(2024, 3, 1), days=3, sessions_per_day=12, persons_per_team=40
)
DAYS = [SPEC.start_day + dt.timedelta(days=i) for i in range(SPEC.days)]
# persons get versions written up to two days after the last event day
PERSON_DAYS = [SPEC.start_day + dt.timedelta(days=i) for i in range(SPEC.days + 3)]


def run_partition(
    env,
    team_id,
    day,
    kind="events",
    *,
    run_id="manual__1",
    options=None,
    before_commit=None,
    dag_id="duckling_backfill",
):
    """export + register of one partition, as the mapped tasks do."""
    options = options or RunParams()
    run = RunInfo(dag_id=dag_id, run_id=run_id)
    exported = export_partition(item(team_id, day, kind, "test"), options, run, env)
    return register_partition(exported, options, run, env, before_commit=before_commit)


def lake_query(env, team_id, sql, params=None):
    duckling = Registry(env.db).get(team_id)
    with open_lake(duckling, access_for(duckling)) as lake:
        return lake.con.execute(sql, params or {}).fetchall()


def ch_day_counts(env, team_id):
    rows = env.ch.query(
        "duckling/count_events_days",
        {"team_ids": [team_id], "start_day": dt.date(2000, 1, 1), "end_day": dt.date(2100, 1, 1)},
    )
    return {r["day"]: int(r["n"]) for r in rows}


def lake_day_counts(env, team_id):
    if not lake_query(
        env, team_id, "SELECT 1 FROM duckdb_tables() WHERE database_name = 'lake' AND table_name = 'events'"
    ):
        return {}
    rows = lake_query(
        env,
        team_id,
        'SELECT CAST("timestamp" AS DATE) d, count(*), count(DISTINCT uuid) '
        "FROM lake.main.events WHERE team_id = $t GROUP BY d ORDER BY d",
        {"t": team_id},
    )
    for _, n, u in rows:
        assert n == u, "duplicate uuid in the lake"
    return {d: n for d, n, _ in rows}


def ch_exec(env, sql, params=None):
    """A test-only statement on the embedded ClickHouse (fixed text, values as typed parameters)."""
    from backfill import sql as sqlt

    env.ch.query(sqlt.Template("test", sql), params)


def s3_keys(env, team_id, prefix="backfill/events/"):
    duckling = Registry(env.db).get(team_id)
    client = access_for(duckling).boto3_client()
    return sorted(
        o["Key"] for o in client.list_objects_v2(Bucket=duckling.bucket, Prefix=prefix).get("Contents", [])
    )


def lake_persons(env, team_id):
    duckling = Registry(env.db).get(team_id)
    with open_lake(duckling, access_for(duckling)) as lake:
        if not lake.columns("persons"):
            return [], []
        return lake.persons(), lake.distinct_ids()


def ch_persons(env, team_id):
    """ClickHouse's latest persons state of a team: what the duckling must hold."""
    persons = [dict(r) for r in env.ch.query("duckling/latest_persons", {"team_id": team_id})]
    distinct = [dict(r) for r in env.ch.query("duckling/latest_distinct_ids", {"team_id": team_id})]
    return persons, distinct
