"""Both DAGs end to end with dag.test(): backfill semantics and full-history coverage under the cap."""

from __future__ import annotations

import datetime as dt

import pytest
from duckling_helpers import DAYS, ch_day_counts, lake_day_counts


@pytest.fixture
def dags(dag_module):
    return dag_module("duckling_backfill")


def _state(dr):
    return str(getattr(dr.state, "value", dr.state))


def test_daily_three_logical_dates_give_exactly_those_days(dags, env, demo_data, make_duckling):
    make_duckling(11)
    make_duckling(12)
    conf = {"team_ids": [11], "kinds": ["events"]}
    for day in DAYS:
        logical = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
        dr = dags.duckling_backfill.test(logical_date=logical, run_conf=conf)
        assert _state(dr) == "success"
    assert lake_day_counts(env, 11) == ch_day_counts(env, 11)
    assert set(lake_day_counts(env, 11)) == set(DAYS)
    assert lake_day_counts(env, 12) == {}


def test_full_backfill_reaches_coverage_under_the_cap(dags, env, demo_data, make_duckling):
    for team in demo_data.team_ids:
        make_duckling(team)
    conf = {"kinds": ["events"], "max_partitions": 4, "end_date": DAYS[-1].isoformat()}
    runs = []
    for i in range(3):
        dr = dags.duckling_full_backfill.test(
            logical_date=dt.datetime(2024, 4, 1 + i, tzinfo=dt.UTC), run_conf=conf
        )
        assert _state(dr) == "success"
        rows = env.ledger.rows("duckling", kind="events", status="done")
        runs.append(len(rows))
    assert runs == [4, 6, 6]  # at most the cap per run, then full coverage; nothing more to do
    for team in demo_data.team_ids:
        assert lake_day_counts(env, team) == ch_day_counts(env, team)
