"""Coverage states, ClickHouse cost per partition and metrics for the duckling DAGs, from real runs under
dag.test(): the grid against ClickHouse and the lake, the cost against the partition's rows, and the
StatsD datagrams Airflow's metrics interface sends (a receiver on loopback) against the ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from duckling_helpers import DAYS, ch_day_counts, ch_exec, lake_day_counts

from backfill.coverage import grid
from backfill.freshness.objective import Objectives, check
from backfill.ledger import detail_of
from devtools.statsd_sink import StatsdSink

LATE_EVENTS = """INSERT INTO events
SELECT generateUUIDv4(), event, properties, timestamp + INTERVAL 1 SECOND, team_id, distinct_id, person_id,
       session_id, elements_chain, created_at, now64()
FROM events
WHERE team_id = {team_id:Int64}
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')
ORDER BY uuid
LIMIT 3"""


@pytest.fixture
def dags(dag_module):
    return dag_module("duckling_backfill")


@pytest.fixture
def statsd(monkeypatch):
    """Airflow's metrics interface pointed at a StatsD receiver on loopback, as [metrics] would."""
    from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics import stats_utils

    sink = StatsdSink()
    for key, value in {"STATSD_ON": "True", "STATSD_HOST": sink.host, "STATSD_PORT": str(sink.port),
                       "STATSD_PREFIX": "airflow"}.items():  # fmt: skip
        monkeypatch.setenv(f"AIRFLOW__METRICS__{key}", value)
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    yield sink
    stats.initialize(factory=NoStatsLogger, export_legacy_names=False)
    sink.close()


def _daily(dags, day: dt.date, conf: dict):
    logical = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    return dags.duckling_backfill.test(logical_date=logical, run_conf=conf)


def _wait_for(sink: StatsdSink, name: str, mark: int, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(m.name == name for m in sink.since(mark)):
        time.sleep(0.05)


def test_cost_metrics_and_coverage_of_a_daily_backfill(dags, env, demo_data, make_duckling, statsd):
    make_duckling(11)
    conf = {"team_ids": [11], "kinds": ["events"]}
    mark = statsd.mark()
    for day in DAYS:
        assert str(_daily(dags, day, conf).state) == "success"
    source = ch_day_counts(env, 11)
    assert lake_day_counts(env, 11) == source

    # cost per partition: what the engine wrote is the partition's rows; it read at least those
    for day in DAYS:
        [row] = env.ledger.rows("duckling", team_ids=[11], start=day, end=day, kind="events")
        cost = detail_of(row)["clickhouse"]
        assert cost["rows_written"] == source[day] == row["target_count"], cost
        assert cost["rows_read"] >= source[day] and cost["bytes_written"] > 0 and cost["queries"] >= 1

    # metrics: one datagram stream, checked against the ledger
    _wait_for(statsd, "airflow.backfill.duckling.rows_registered", mark)
    done = env.ledger.rows("duckling", team_ids=[11], kind="events", status="done")
    assert statsd.total("airflow.backfill.duckling.partitions.done", mark) == len(done) == len(DAYS)
    assert statsd.total("airflow.backfill.duckling.partitions.failed", mark) == 0
    assert statsd.total("airflow.backfill.duckling.rows_exported", mark) == sum(
        r["source_count"] for r in done
    )
    assert statsd.total("airflow.backfill.duckling.rows_registered", mark) == sum(
        r["target_count"] for r in done
    )
    read = sum(detail_of(r)["clickhouse"]["rows_read"] for r in done)
    assert statsd.total("airflow.backfill.duckling.clickhouse.rows_read", mark) == read

    # coverage: every run day done with ClickHouse's count; freshness gauges from the check
    cells = {c.day: c for c in grid(env.db, "duckling", DAYS[0], DAYS[-1], [11]).cells}
    assert {d: (c.state, c.source_count) for d, c in cells.items()} == {d: ("done", source[d]) for d in DAYS}
    from backfill import metrics

    morning = dt.datetime.combine(DAYS[-1] + dt.timedelta(days=1), dt.time(7), tzinfo=dt.UTC)
    result = check(env.db, "duckling", [11], morning, Objectives(dt.time(6)), window_days=len(DAYS))
    assert result.overdue == [] and result.lags == {11: 0}
    mark = statsd.mark()
    metrics.emit_freshness("duckling", result.lags)
    _wait_for(statsd, "airflow.backfill.duckling.teams_behind", mark)
    assert statsd.last("airflow.backfill.duckling.freshness_lag_days", mark) == 0
    assert statsd.last("airflow.backfill.duckling.teams_behind", mark) == 0


def test_coverage_states_stale_missing_failed_and_the_freshness_check(dags, env, demo_data, make_duckling):
    make_duckling(11)
    make_duckling(12, bucket="no-such-bucket")  # every export of team 12 fails: permanent
    last = DAYS[-1]
    dr = _daily(dags, last, {"team_ids": [11, 12], "kinds": ["events"]})
    assert str(dr.state) == "failed"  # the report fails the run for team 12
    ch_exec(env, LATE_EVENTS, {"team_id": 11, "day": last})  # late events after the registration
    # a dry run of the next day observes the counts and writes nothing
    dr = _daily(
        dags, last + dt.timedelta(days=1), {"team_ids": [11, 12], "kinds": ["events"], "dry_run": True}
    )
    assert str(dr.state) == "success"
    source = ch_day_counts(env, 11)
    cells = {(c.team_id, c.day): c for c in grid(env.db, "duckling", DAYS[0], last).cells}
    assert cells[(11, last)].state == "stale"
    assert cells[(11, last)].source_count == source[last]  # what ClickHouse holds now
    assert cells[(11, DAYS[0])].state == "missing"  # events, never exported (only the last day ran)
    assert cells[(12, last)].state == "failed" and "no-such-bucket" in cells[(12, last)].error
    assert cells[(12, DAYS[0])].state == "missing"

    morning = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(7), tzinfo=dt.UTC)
    result = check(env.db, "duckling", [11, 12], morning, Objectives(dt.time(6)), window_days=len(DAYS))
    assert sorted(t.team_id for t in result.overdue) == [11, 12]
    assert f"team 12: not complete {DAYS[0]}, {DAYS[1]}, {last}" in result.message()
