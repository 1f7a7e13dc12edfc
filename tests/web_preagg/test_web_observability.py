"""Coverage, ClickHouse cost per partition and freshness for web_preagg, from real runs under dag.test():
the grid the coverage page serves, the cost figures against the partition's rows, and the freshness
check naming the teams and days that miss the objective."""

from __future__ import annotations

import datetime as dt

from test_dag import CONF, WINDOW, run, xcom
from wp_helpers import ENABLED, EXPECTED_MISSING, WINDOW_END, python_team_day_pageviews, tq

from backfill.coverage import grid
from backfill.freshness.objective import Objectives, check
from backfill.ledger import detail_of
from backfill.web_preagg import FAMILY, KIND, TABLES


def states(appdb) -> dict:
    return {(c.team_id, c.day): c for c in grid(appdb, FAMILY, WINDOW.start, WINDOW.end, list(ENABLED)).cells}


def test_coverage_grid_follows_detection_then_the_backfill(world, ledger, appdb, dag):
    ch = world
    expected = python_team_day_pageviews(ch, ENABLED, WINDOW.start, WINDOW.end)

    # a dry run detects and records what it saw, and writes nothing
    dr, s = run(dag, {**CONF, "dry_run": True})
    assert str(dr.state) == "success", s
    cells = states(appdb)
    assert len(cells) == len(ENABLED) * WINDOW.days
    for key, cell in cells.items():
        if key in EXPECTED_MISSING:
            assert cell.state == "missing", cell
        elif key in expected:
            assert cell.state == "done", cell
        else:  # no session started that day (team 2's quiet day)
            assert cell.state == "no_traffic", cell
        assert cell.source_count == expected.get(key, 0)
        assert (cell.dag_id, cell.run_id) == (dr.dag_id, dr.run_id)

    # freshness on the morning of the window's last day: team 1's yesterday is missing -> overdue, named
    morning = dt.datetime.combine(WINDOW_END, dt.time(7, 0), tzinfo=dt.UTC)
    yesterday = WINDOW_END - dt.timedelta(days=1)
    assert (1, yesterday) in EXPECTED_MISSING
    result = check(appdb, FAMILY, list(ENABLED), morning, Objectives(dt.time(6, 0)), window_days=WINDOW.days)
    assert [t.team_id for t in result.overdue] == [1], result
    assert "team 1" in result.message() and yesterday.isoformat() in result.message()
    assert result.lags[1] == 1 and result.lags[2] == 0
    # before the deadline nobody is overdue yet; a later per-team deadline spares team 1
    early = morning.replace(hour=5)
    assert check(appdb, FAMILY, list(ENABLED), early, Objectives(dt.time(6, 0))).overdue == []
    spared = Objectives(dt.time(6, 0), {1: dt.time(9, 0)})
    assert check(appdb, FAMILY, list(ENABLED), morning, spared).overdue == []

    # the backfill fills the gaps: their cells become done, with the run, counts and cost
    dr2, s2 = run(dag, CONF)
    assert str(dr2.state) == "success", s2
    cells = states(appdb)
    assert all(cells[k].state in ("done", "no_traffic") for k in cells)
    for team_id, day in EXPECTED_MISSING:
        cell = cells[(team_id, day)]
        assert (cell.dag_id, cell.run_id) == (dr2.dag_id, dr2.run_id)
        assert cell.source_count == cell.target_count == expected[(team_id, day)]
    assert check(appdb, FAMILY, list(ENABLED), morning, Objectives(dt.time(6, 0))).overdue == []


def test_clickhouse_cost_per_partition_matches_its_rows(world, ledger, appdb, dag):
    ch = world
    dr, s = run(dag, CONF)
    assert str(dr.state) == "success", s
    total_written = total_read = 0
    for team_id, day in EXPECTED_MISSING:
        [row] = ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day, kind=KIND)
        cost = detail_of(row)["clickhouse"]
        # every written row is accounted for: the staging insert and the copy of each table (a team-day
        # is recomputed in both tables, whichever was missing)
        target_rows = sum(
            int(ch.query(tq("team_day_target_rows"), {"t": t, "team_id": team_id, "day": day})[0]["n"])
            for t in TABLES
        )
        assert target_rows > 0
        assert cost["rows_written"] == 2 * target_rows, cost
        events = int(ch.query(tq("team_day_events"), {"team_id": team_id, "day": day})[0]["n"])
        assert cost["rows_read"] >= events > 0, cost
        assert cost["bytes_read"] > 0 and cost["bytes_written"] > 0 and cost["elapsed_s"] > 0
        assert cost["queries"] >= 4
        total_written += cost["rows_written"]
        total_read += cost["rows_read"]
    report = xcom(dr, "report")
    assert report["clickhouse"]["rows_written"] == total_written
    assert report["clickhouse"]["rows_read"] == total_read
    # the coverage grid carries the same figures, and sums them
    g = grid(appdb, FAMILY, WINDOW.start, WINDOW.end, list(ENABLED))
    assert g.cost()["rows_written"] == total_written
