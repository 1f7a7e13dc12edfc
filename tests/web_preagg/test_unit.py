"""Pure decisions: params, window, team selection, classification, plan, report. No services."""

from __future__ import annotations

import datetime as dt

import pytest

from backfill.web_preagg import BOUNCES, STATS, TABLES
from backfill.web_preagg.detect import Coverage, TeamDay, classify
from backfill.web_preagg.params import Window, parse_params, resolve_window
from backfill.web_preagg.plan import RUN, SKIP, make_plan
from backfill.web_preagg.report import build_report, format_report
from backfill.web_preagg.select_teams import configured_team_ids, select_teams

D = dt.date
W = Window(D(2024, 3, 1), D(2024, 3, 30))


def p(**kw):
    return parse_params(kw)


# --- params --------------------------------------------------------------------------------------------
def test_defaults():
    rp = p()
    assert (rp.lookback_days, rp.min_missing_partitions, rp.max_partitions_per_run) == (30, 3, 7)
    assert rp.tables == TABLES and not rp.dry_run and not rp.force and rp.team_ids == ()


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"team_ids": ["1; DROP"]}, "'1; DROP' is not a valid team id"),
        ({"team_ids": [0]}, "0 is not a valid team id"),
        ({"team_ids": [True]}, "True is not a valid team id"),
        ({"team_ids": "1,2"}, "team_ids='1,2' is invalid"),
        ({"lookback_days": -1}, "lookback_days=-1 is invalid"),
        ({"lookback_days": 366}, "lookback_days=366"),
        ({"max_partitions_per_run": 1001}, "max_partitions_per_run=1001"),
        ({"tables": ["events"]}, "unknown table 'events'"),
        ({"tables": []}, "tables=[] is invalid"),
        ({"end_date": "yesterday"}, "end_date='yesterday'"),
        ({"dry_run": "yes"}, "dry_run='yes'"),
    ],
)
def test_bad_params_fail_with_the_value_named(raw, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_params(raw)


def test_window_end_priority():
    assert resolve_window(
        p(end_date="2024-03-10", lookback_days=3), dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    ) == Window(D(2024, 3, 8), D(2024, 3, 10))
    # the run for [D, D+1) checks the window ending with D
    assert resolve_window(p(lookback_days=30), dt.datetime(2024, 5, 1, tzinfo=dt.UTC)).end == D(2024, 5, 1)
    assert resolve_window(p(lookback_days=1), None, today=D(2024, 5, 1)) == Window(
        D(2024, 4, 30), D(2024, 4, 30)
    )


# --- team selection ------------------------------------------------------------------------------------
def test_select_teams_sources_and_override():
    env = {"WEB_ANALYTICS_ENABLED_TEAM_IDS": " 7, 3 ,"}
    s = select_teams(p(), W, enabled_team_ids=lambda: [3, 1], env=env)
    assert s.team_ids == [1, 3, 7]
    assert select_teams(p(team_ids=[9]), W, enabled_team_ids=lambda: [1], env=env).team_ids == [9]
    assert configured_team_ids(lambda name: "5,6", env={}) == (
        "variable WEB_ANALYTICS_ENABLED_TEAM_IDS",
        [5, 6],
    )
    assert configured_team_ids(lambda name: None, env={}) is None


def test_select_teams_refuses_bad_configured_ids_before_reading_anything():
    called = []
    with pytest.raises(ValueError, match="env var WEB_ANALYTICS_ENABLED_TEAM_IDS: '2; DROP'"):
        select_teams(
            p(),
            W,
            enabled_team_ids=lambda: called.append(1) or [1],
            env={"WEB_ANALYTICS_ENABLED_TEAM_IDS": "1,2; DROP"},
        )
    assert not called
    with pytest.raises(ValueError, match="Airflow Variable .*'-4'"):
        configured_team_ids(lambda name: "-4", env={})


# --- classification ------------------------------------------------------------------------------------
def cov(team, day, source, stats, bounces):
    """A detection row: the source's pageviews, and (rows, pageviews) of stats and of bounces."""
    return Coverage(team, day, source, *stats, *bounces)


def test_classify_missing_stale_present():
    d1, d2, d3, d4, d5 = (D(2024, 3, i) for i in range(1, 6))
    coverage = [
        cov(1, d1, 10, (0, 0), (0, 0)),  # missing in both
        cov(1, d2, 10, (5, 10), (0, 0)),  # missing in bounces
        cov(2, d3, 12, (5, 10), (3, 10)),  # late events (target check)
        cov(2, d4, 10, (5, 10), (3, 10)),  # baseline differs
        cov(3, d5, 0, (5, 10), (0, 0)),  # rows without traffic
        cov(3, d1, 7, (5, 7), (3, 7)),  # complete
        cov(3, d2, 0, (0, 0), (0, 0)),  # nothing anywhere: no finding
    ]
    missing, stale, present = classify(coverage, {(2, d4): 8, (3, d1): 7}, TABLES)
    assert [(m.team_id, m.day, m.tables) for m in missing] == [(1, d1, TABLES), (1, d2, (BOUNCES,))]
    assert [(s.team_id, s.day) for s in stale] == [(2, d3), (2, d4), (3, d5)]
    assert "8 -> 10" in stale[1].reason and "source 0" in stale[2].reason
    assert [(x.team_id, x.day) for x in present] == [(3, d1)]
    # only stats checked: team 1 day 2 is complete
    missing, _, present = classify(coverage, {}, (STATS,))
    assert [(m.team_id, m.day) for m in missing] == [(1, d1)]


# --- plan --------------------------------------------------------------------------------------------
def td(team, day, reason="missing in stats, bounces"):
    return TeamDay(team, day, TABLES, 10, reason)


MISSING = [td(1, D(2024, 3, d)) for d in (1, 20, 29, 30)] + [td(2, D(2024, 3, 30))]


def test_plan_newest_first_with_cap_and_stale_after_missing():
    stale = [td(3, D(2024, 3, 29), "source pageviews 9 -> 10 since computed")]
    plan = make_plan(MISSING, stale, [], p(max_partitions_per_run=4, min_missing_partitions=3), W)
    assert [(d.team_id, d.day.day) for d in plan.planned] == [(1, 30), (2, 30), (1, 29), (1, 20)]
    assert [(d.team_id, d.day.day, d.kind) for d in plan.skipped] == [(1, 1, "missing"), (3, 29, "stale")]
    assert all("max_partitions_per_run=4" in d.reason for d in plan.skipped)
    assert plan.items()[0] == {
        "team_id": 1,
        "day": "2024-03-30",
        "tables": list(TABLES),
        "reason": "missing: missing in stats, bounces",
        "source_pageviews": 10,
    }
    # day 1 is reached in run 1 (the next), but leaves the window (starting 03-01) after this run: warned
    assert len(plan.warnings) == 1 and "team 1 day 2024-03-01" in plan.warnings[0]
    table = plan.table()
    assert "2024-03-30" in table and "over max_partitions_per_run" in table


def test_plan_threshold_applies_to_missing_only():
    stale = [td(3, D(2024, 3, 29), "stale")]
    plan = make_plan(MISSING[:2], stale, [], p(min_missing_partitions=3), W)
    assert [(d.team_id, d.kind, d.action) for d in plan.decisions] == [
        (1, "missing", SKIP),
        (1, "missing", SKIP),
        (3, "stale", RUN),
    ]
    assert "min_missing_partitions=3" in plan.decisions[0].reason
    forced = make_plan(
        MISSING[:2], [], [td(4, D(2024, 3, 5), "present")], p(min_missing_partitions=3, force=True), W
    )
    assert [(d.team_id, d.kind) for d in forced.planned] == [(1, "missing"), (1, "missing"), (4, "force")]


def test_plan_dry_run_maps_nothing():
    plan = make_plan(MISSING, [], [], p(dry_run=True), W)
    assert plan.items() == [] and len(plan.planned) == 5 and plan.to_dict()["dry_run"]
    assert "dry" in plan.table()


def test_plan_nothing_to_do():
    plan = make_plan([], [], [], p(), W)
    assert plan.items() == [] and "nothing missing" in plan.table()


# --- report -------------------------------------------------------------------------------------------
def test_report_counts_per_table_and_failures():
    detection = {
        "window": W.to_dict(),
        "team_count": 2,
        "missing": [td(1, D(2024, 3, 30)).to_dict(), {**td(2, D(2024, 3, 30)).to_dict(), "tables": [STATS]}],
        "stale": [td(3, D(2024, 3, 29), "stale").to_dict()],
    }
    plan = make_plan(
        [TeamDay.from_dict(m) for m in detection["missing"]],
        [TeamDay.from_dict(s) for s in detection["stale"]],
        [],
        p(min_missing_partitions=1),
        W,
    ).to_dict()
    results = [
        {"team_id": 1, "day": "2024-03-30", "status": "done"},
        {"team_id": 3, "day": "2024-03-29", "status": "skipped", "detail": "claimed by other"},
    ]
    rep = build_report(detection, plan, results, {(2, "2024-03-30"): {"error": "VerificationError: x"}})
    assert rep["team_days"] == {"missing": 2, "stale": 1, "planned": 3, "done": 1, "failed": 1, "skipped": 1}
    assert rep["per_table"]["stats"]["missing"] == 2 and rep["per_table"]["bounces"]["missing"] == 1
    assert rep["failed"][0]["error"] == "VerificationError: x"
    text = format_report(rep)
    assert "FAILED  team 2 day 2024-03-30" in text and "SKIPPED team 3" in text
