"""web_preagg on a bad day: live ingestion during a recompute, and a hole the backfill itself made."""

from __future__ import annotations

import time

import pytest
from wp_helpers import SPEC, WINDOW_END, D, finalized, from_scratch, raw_rows, rows_except, tq

from backfill.ledger import DONE, FAILED
from backfill.web_preagg import FAMILY, TABLES
from backfill.web_preagg import recompute as rc
from backfill.web_preagg.detect import detect
from backfill.web_preagg.params import Window, parse_params
from backfill.web_preagg.plan import RUN, make_plan
from backfill.web_preagg.recompute import recompute_team_day

pytestmark = pytest.mark.faults
WINDOW = Window(SPEC.start_day, WINDOW_END)
TEAM, DAY = 3, D(2024, 3, 12)  # a complete team-day of the world


def _equals_from_scratch(ch, team_id, day):
    return all(finalized(ch, t, team_id, day) == from_scratch(ch, t, team_id, day) for t in TABLES)


def _record(ch, ledger, record_fault, fault, fired, before, team_days):
    """The web_preagg invariant as figures: team-days differing from a from-scratch build (rows lost),
    changed rows of other team-days (duplicates), staging tables left behind (orphans). Tries are the
    ledger's claims of the team-days; the check is run once more on a broken copy, and must fail."""
    differing = sum(not _equals_from_scratch(ch, t, d) for t, d in team_days)
    now = raw_rows(ch)
    others = rows_except(now, set(team_days)) != rows_except(before, set(team_days))
    staging = len(ch.query(tq("staging_tables"), {}))
    tries = sum(
        int(r["attempts"]) for t, d in team_days for r in ledger.rows(FAMILY, team_ids=[t], start=d, end=d)
    )
    # the invariant broken on purpose: a team-day missing one row, another team-day's rows changed
    t, d = team_days[0]
    broken_day = any(finalized(ch, tb, t, d)[1:] != from_scratch(ch, tb, t, d) for tb in TABLES)
    first = TABLES[0]
    victim = next(r for r in now[first] if (r[0], r[1]) not in set(team_days))
    broken_now = {**now, first: [r for r in now[first] if r is not victim]}
    broken_others = rows_except(broken_now, set(team_days)) != rows_except(before, set(team_days))
    record_fault(fault, tries, not (differing or others or staging), differing, int(others), "-", staging,
                 fired=fired, can_fail=broken_day and broken_others)  # fmt: skip
    assert not (differing or others or staging)
    assert broken_day and broken_others


def test_recompute_under_live_ingestion_verifies_like_with_like(world, ledger, monkeypatch, record_fault):
    ch = world
    before = raw_rows(ch)
    real_insert = rc.insert_preaggregated

    arrived = []

    def insert_while_events_arrive(*args, **kwargs):
        real_insert(*args, **kwargs)
        ch.query(tq("live_pageviews"), {"team_id": TEAM, "day": DAY, "n": 3})  # arrives after the read
        arrived.append(1)

    monkeypatch.setattr(rc, "insert_preaggregated", insert_while_events_arrive)
    out = recompute_team_day(ch, ledger, TEAM, DAY, TABLES, owner="newest-day")
    assert out["status"] == "done"  # no VerificationError: the insert and the check read the same events
    monkeypatch.undo()
    # the events that arrived meanwhile make the day stale for the next run, which then settles it
    d = detect(ch, ledger, [TEAM], Window(DAY, DAY))
    assert [(s.team_id, s.day) for s in d.stale] == [(TEAM, DAY)]
    time.sleep(2)  # the next run reads what was ingested before it started (by the second)
    recompute_team_day(ch, ledger, TEAM, DAY, TABLES, owner="next-run")
    assert detect(ch, ledger, [TEAM], Window(DAY, DAY)).stale == []
    assert _equals_from_scratch(ch, TEAM, DAY)
    assert arrived
    _record(ch, ledger, record_fault, "web_preagg: events arrive during the recompute", len(arrived), before,
            [(TEAM, DAY)])  # fmt: skip


def test_a_hole_the_backfill_made_is_repaired_whatever_the_threshold(
    world, ledger, monkeypatch, record_fault
):
    ch = world
    before = raw_rows(ch)
    real_query = ch.query

    failed_copies = []

    def copy_fails(template, params=None, **kw):
        if getattr(template, "name", template) == "web_preagg/copy_from_staging":
            failed_copies.append(1)
            raise RuntimeError("Code: 210. Connection reset by peer (copy)")
        return real_query(template, params, **kw)

    monkeypatch.setattr(ch, "query", copy_fails)
    for owner in ("try-1", "try-2"):  # the task and its retry: delete succeeded, copy failed, twice
        try:
            recompute_team_day(ch, ledger, TEAM, DAY, TABLES, owner=owner)
        except RuntimeError:
            pass
    monkeypatch.undo()
    assert ledger.rows(FAMILY, team_ids=[TEAM], start=DAY, end=DAY)[0]["status"] == FAILED
    d = detect(ch, ledger, [TEAM], WINDOW)
    hole = [m for m in d.missing if (m.team_id, m.day) == (TEAM, DAY)]
    assert hole and hole[0].repair
    # one missing team-day of this team, far below the default threshold of 3: repaired anyway
    plan = make_plan(d.missing, d.stale, [], parse_params({"team_ids": [TEAM]}), WINDOW)
    assert [(x.team_id, x.day, x.kind) for x in plan.planned] == [(TEAM, DAY, "repair")]
    assert all(x.action == RUN for x in plan.planned)
    recompute_team_day(ch, ledger, TEAM, DAY, TABLES, owner="next-run")
    assert _equals_from_scratch(ch, TEAM, DAY)
    assert ledger.rows(FAMILY, team_ids=[TEAM], start=DAY, end=DAY)[0]["status"] == DONE
    # every other team-day is byte-identical
    assert rows_except(raw_rows(ch), {(TEAM, DAY)}) == rows_except(before, {(TEAM, DAY)})
    assert len(failed_copies) == 2
    _record(ch, ledger, record_fault, "web_preagg: delete done, copy failed twice, then repair",
            len(failed_copies), before, [(TEAM, DAY)])  # fmt: skip


@pytest.mark.parametrize(
    "event, delay_s, changes",
    [("$autocapture", 2, "a bounce becomes a non-bounce"), ("$pageleave", 1800, "the duration grows")],
)
def test_a_late_event_that_changes_no_pageview_makes_the_team_day_stale(
    world, ledger, event, delay_s, changes
):
    """Detection compares sessions, bounces and total duration with the bounces table in the same scan,
    so a late event of another kind is seen; the recompute fixes it."""
    ch, team, day = world, 1, D(2024, 3, 12)
    recompute_team_day(ch, ledger, team, day, TABLES, owner="first")
    assert detect(ch, ledger, [team], Window(day, day)).stale == []
    ch.query(tq("late_session_event"), {"team_id": team, "day": day, "event": event, "delay_s": delay_s})
    d = detect(ch, ledger, [team], Window(day, day))
    [stale] = d.stale
    assert (stale.team_id, stale.day) == (team, day) and "late events" in stale.reason, changes
    assert stale.tables == TABLES  # session-level values feed both tables
    recompute_team_day(ch, ledger, team, day, stale.tables, owner="next")
    assert detect(ch, ledger, [team], Window(day, day)).stale == []
    assert _equals_from_scratch(ch, team, day)
