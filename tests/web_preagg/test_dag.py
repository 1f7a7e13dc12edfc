"""End to end: the DAG from dags/web_preagg_backfill.py under dag.test(), on chdb + PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from wp_helpers import (
    ENABLED,
    EXPECTED_MISSING,
    NOT_ENABLED,
    SPEC,
    WINDOW_END,
    D,
    finalized,
    from_scratch,
    python_team_day_pageviews,
    raw_rows,
    rows_except,
    tq,
)

from backfill.ledger import DONE
from backfill.web_preagg import FAMILY, TABLES
from backfill.web_preagg.detect import detect
from backfill.web_preagg.params import Window

WINDOW = Window(SPEC.start_day, WINDOW_END)
CONF = {"end_date": WINDOW_END.isoformat(), "lookback_days": SPEC.days}


_RUNS = iter(range(1, 10_000))


def run(dag, conf: dict, logical_date: dt.datetime | None = None):
    """One dag.test() run. Each gets its own logical date: dag.test reuses a run (and its conf) found
    for the same logical date."""
    logical_date = logical_date or dt.datetime(2024, 4, 2, tzinfo=dt.UTC) + dt.timedelta(minutes=next(_RUNS))
    # a fresh DAG object per run: dag.test() leaves the run conf in the DAG's params
    dr = dag.web_preagg_backfill().test(logical_date=logical_date, run_conf=conf)
    states = {(ti.task_id, ti.map_index): ti.state for ti in dr.get_task_instances()}
    return dr, states


def xcom(dr, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dr.dag_id, run_id=dr.run_id, task_id=task_id, key="return_value")
            .one_or_none()
        )
        return XComModel.deserialize_value(row) if row is not None else None


def test_dag_backfills_exactly_the_gaps_then_finds_nothing(world, ledger, connections, dag):
    ch = world
    # the detector agrees with the slow, independent computation over raw events
    expected = python_team_day_pageviews(ch, ENABLED, WINDOW.start, WINDOW.end)
    d = detect(ch, ledger, list(ENABLED), WINDOW)
    assert {(m.team_id, m.day): set(m.tables) for m in d.missing} == EXPECTED_MISSING
    assert {(p.team_id, p.day) for p in d.present} == set(expected) - set(EXPECTED_MISSING)
    before = raw_rows(ch)

    dr, states = run(dag, CONF)
    assert str(dr.state) == "success", states
    assert sorted(m for (t, m) in states if t == "backfill_team_day") == [0, 1, 2, 3]
    labels = {ti.rendered_map_index for ti in dr.get_task_instances() if ti.task_id == "backfill_team_day"}
    assert labels == {f"team {t} · {d}" for t, d in EXPECTED_MISSING}
    report = xcom(dr, "report")
    assert report["team_days"]["missing"] == 4 and report["team_days"]["done"] == 4
    assert report["per_table"]["stats"]["missing"] == 3 and report["per_table"]["bounces"]["missing"] == 3
    assert report["team_days"]["failed"] == 0

    after = raw_rows(ch)
    assert rows_except(after, set(EXPECTED_MISSING)) == rows_except(before, set(EXPECTED_MISSING))
    for team_id, day in EXPECTED_MISSING:
        for table in TABLES:
            assert finalized(ch, table, team_id, day) == from_scratch(ch, table, team_id, day)
    done = {(r["team_id"], r["day"]) for r in ledger.rows(FAMILY, status=DONE)}
    assert done == set(EXPECTED_MISSING)
    assert all(r["source_count"] == expected[(r["team_id"], r["day"])] for r in ledger.rows(FAMILY))
    assert all(t != NOT_ENABLED for t, _ in done)

    # a second run finds nothing to do
    dr2, states2 = run(dag, CONF)
    assert str(dr2.state) == "success", states2
    assert not [k for k in states2 if k[0] == "backfill_team_day" and k[1] >= 0]
    report2 = xcom(dr2, "report")
    assert report2["team_days"]["missing"] == 0 and report2["team_days"]["planned"] == 0
    assert raw_rows(ch) == after


def test_late_events_are_recomputed_by_the_next_run(world, ledger, connections, dag):
    ch = world
    day = D(2024, 3, 15)
    ch.query(tq("late_pageviews"), {"team_id": 2, "day": day, "n": 4})
    conf = {**CONF, "team_ids": [2], "min_missing_partitions": 0}
    dr, states = run(dag, conf)
    assert str(dr.state) == "success", states
    report = xcom(dr, "report")
    assert report["team_days"]["stale"] == 1 and report["team_days"]["done"] >= 1
    assert detect(ch, ledger, [2], WINDOW).stale == []
    for table in TABLES:
        assert finalized(ch, table, 2, day) == from_scratch(ch, table, 2, day)


def test_dry_run_writes_nothing(world, ledger, connections, dag):
    ch = world
    before = raw_rows(ch)
    dr, states = run(dag, {**CONF, "dry_run": True})
    assert str(dr.state) == "success", states
    report = xcom(dr, "report")
    assert report["dry_run"] and report["team_days"]["planned"] == 4 and report["team_days"]["done"] == 0
    assert raw_rows(ch) == before
    assert ledger.rows(FAMILY) == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"team_ids": ["1; DROP"]}, "1; DROP"),
        ({"lookback_days": -3}, "lookback_days"),
        ({"tables": ["web_pre_aggregated_stats", "events"]}, "events"),
    ],
)
def test_bad_params_are_refused_and_nothing_is_written(world, ledger, connections, dag, bad, message):
    from airflow.sdk.definitions.param import ParamValidationError

    ch = world
    before = raw_rows(ch)
    with pytest.raises(ParamValidationError) as err:
        run(dag, {**CONF, **bad})
    assert message in str(err.value) or message in str(err.value.__cause__)
    assert raw_rows(ch) == before
    assert ledger.rows(FAMILY) == []


def test_a_failed_team_day_fails_the_run_after_the_report(world, ledger, connections, dag, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from backfill.web_preagg import tasks

    real = tasks.recompute_team_day

    def flaky(ch, ledger_, team_id, day, *a, **k):
        if day == D(2024, 3, 31):  # a permanent failure: Airflow does not retry it
            raise AirflowFailException("injected failure")
        return real(ch, ledger_, team_id, day, *a, **k)

    monkeypatch.setattr(tasks, "recompute_team_day", flaky)
    dr, states = run(dag, {**CONF, "team_ids": [1], "min_missing_partitions": 1})
    assert str(dr.state) == "failed"
    assert states[("report", -1)] == "failed" and states[("cleanup", -1)] == "success"
    by_day = {r["day"]: r["status"] for r in ledger.rows(FAMILY)}
    assert by_day == {D(2024, 3, 5): DONE}
