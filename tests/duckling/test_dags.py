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


def test_daily_under_a_small_cap_serves_every_team_and_persons_converge(dags, env, clickhouse, make_duckling):
    """6 teams x (events, persons) a day, 4 partitions per run: what the cap defers comes back in later
    runs, and every team's persons end equal to ClickHouse's latest state."""
    from duckling_helpers import ch_persons, lake_persons

    from devtools.demo_data import DemoSpec, generate

    spec = DemoSpec(
        team_ids=tuple(range(21, 27)), start_day=DAYS[0], days=2, sessions_per_day=4, persons_per_team=8
    )
    generate(clickhouse, spec)
    for team in spec.team_ids:
        make_duckling(team)
    runs = [DAYS[0] + dt.timedelta(days=i) for i in range(6)]  # persons change up to 2 days after the events
    for i, day in enumerate(runs):
        logical = dt.datetime(day.year, day.month, day.day, 3, tzinfo=dt.UTC) + dt.timedelta(days=1)
        dr = dags.duckling_backfill.test(logical_date=logical, run_conf={"max_partitions": 4})
        assert _state(dr) == "success", i
    for team in spec.team_ids:
        assert lake_persons(env, team) == ch_persons(env, team), team
    served = {
        r["team_id"] for r in env.ledger.rows("duckling", status="done") if r["kind"].startswith("persons")
    }
    assert served == set(spec.team_ids)
