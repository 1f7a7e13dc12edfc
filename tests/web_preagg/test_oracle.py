"""The pre-aggregated tables equal an independent Python recomputation from raw rows, column by column:
bounces, durations, entry/end pathname, UTM, click ids, geo per table, overrides, $screen sessions, and
the 1 h cutoff after the day. The demo world has web teams and a mobile-only team (3)."""

from __future__ import annotations

import datetime as dt

import oracle
import pytest
from wp_helpers import BOUNCES, ENABLED, SPEC, STATS, finalized, raw_inputs, tq

from backfill.clickhouse import QueryTag
from backfill.ledger import Ledger
from backfill.web_preagg.detect import detect
from backfill.web_preagg.params import Window
from backfill.web_preagg.recompute import insert_preaggregated, recompute_team_day

D = dt.date
TEAM_DAYS = [(1, D(2024, 3, 7)), (2, D(2024, 3, 15)), (3, D(2024, 3, 22)), (1, D(2024, 3, 31))]


@pytest.fixture
def recomputed(world):
    """The oracle over the world's raw rows around the checked team-days."""
    start, end = min(d for _, d in TEAM_DAYS), max(d for _, d in TEAM_DAYS)
    return oracle.Oracle(*raw_inputs(world, sorted({t for t, _ in TEAM_DAYS}), start, end))


@pytest.mark.parametrize(("team_id", "day"), TEAM_DAYS)
def test_every_dimension_and_state_equals_the_oracle(world, recomputed, team_id, day):
    ch = world
    for table in (STATS, BOUNCES):
        ch.query(tq("truncate"), {"t": table})
        insert_preaggregated(ch, table, table, [team_id], day, day, QueryTag("tests"))
    expected = recomputed.team_day(team_id, day)
    assert expected["stats"] and expected["bounces"]
    assert oracle.comparable(finalized(ch, STATS, team_id, day)) == expected["stats"]
    assert oracle.comparable(finalized(ch, BOUNCES, team_id, day)) == expected["bounces"]


def test_the_demo_world_exercises_every_rule(recomputed):
    """Not a tautology guard: the oracle's inputs really contain what the rules are about."""
    sessions = [s for (team, _), s in recomputed.sessions.items() if team in ENABLED]
    assert any(s.is_bounce for s in sessions) and any(s.is_bounce is False for s in sessions)
    assert any(len(s.events) > 1 and s.duration < 10 and s.is_bounce is False for s in sessions)  # 2 events
    assert any(s.start.date() != max(e["ts"] for e in s.events).date() for s in sessions)  # crosses midnight
    late = dt.timedelta(days=1, hours=1)
    assert any(
        any(e["ts"] >= dt.datetime.combine(s.start.date(), dt.time(), dt.UTC) + late for e in s.events)
        for s in sessions
    )  # events past the 1 h cutoff
    assert any(e["event"] == "$screen" for s in sessions for e in s.events)
    assert any(s.values()["utm_source"] for s in sessions) and any(s.values()["has_gclid"] for s in sessions)
    for click in ("gclid", "fbclid"):  # the SDKs' literal 'null' is no click id (PostHog's rule)
        nulls = [s for s in sessions if s.ordered()[0]["props"].get(click) == "null"]
        assert nulls and not any(s.values()[f"has_{click}"] for s in nulls), click
    assert any(
        len({e["props"].get("$geoip_city_name") for e in s.events}) > 1 for s in sessions
    )  # geo differs between the tables
    assert recomputed.overrides


def test_a_mobile_only_team_is_neither_missing_nor_stale_once_computed(world, ledger: Ledger):
    ch = world
    window = Window(SPEC.start_day, SPEC.end_day)
    day = D(2024, 3, 20)  # team 3's bounces gap in the world
    before = detect(ch, ledger, [3], window)
    assert {m.day for m in before.missing} == {day} and not before.stale
    result = recompute_team_day(ch, ledger, 3, day, owner="tests")
    assert result["status"] == "done" and result["source_pageviews"] > 0
    after = detect(ch, ledger, [3], window)
    assert not after.missing and not after.stale
    assert len(after.present) == len([d for d in after.present if d.team_id == 3]) > 20
