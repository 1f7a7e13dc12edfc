"""Replacing a stale team-day: the delete is a patch part where the table allows it (no mutation), a
mutation otherwise (same result), and a reader running beside the replacement never sees the team-day
twice or in part."""

from __future__ import annotations

import threading

from wp_helpers import D, finalized, from_scratch, tq

from backfill.web_preagg import TABLES
from backfill.web_preagg.detect import detect
from backfill.web_preagg.params import Window
from backfill.web_preagg.recompute import enable_patch_parts, patch_parts, recompute_team_day, team_day_totals

TEAM, DAY = 2, D(2024, 3, 15)


def mutations(ch) -> dict[str, int]:
    return {t: ch.query(tq("mutations"), {"t": t})[0]["n"] for t in TABLES}


def make_stale(ch, ledger, n=3):
    ch.query(tq("late_pageviews"), {"team_id": TEAM, "day": DAY, "n": n})
    assert [(s.team_id, s.day) for s in detect(ch, ledger, [TEAM], Window(DAY, DAY)).stale] == [(TEAM, DAY)]


def test_a_stale_team_day_is_replaced_by_patch_parts_without_a_mutation(world, ledger):
    ch = world
    assert patch_parts(ch).ready  # the session's tables had the migration (conftest, as make demo)
    recompute_team_day(ch, ledger, TEAM, DAY, owner="t1")
    make_stale(ch, ledger)
    before = mutations(ch)
    assert recompute_team_day(ch, ledger, TEAM, DAY, owner="t2")["status"] == "done"
    assert mutations(ch) == before  # the deletes were patch parts
    assert not detect(ch, ledger, [TEAM], Window(DAY, DAY)).stale
    for table in TABLES:
        assert finalized(ch, table, TEAM, DAY) == from_scratch(ch, table, TEAM, DAY)


def test_without_the_migration_the_delete_is_a_mutation_with_the_same_result(world, ledger):
    ch = world
    recompute_team_day(ch, ledger, TEAM, DAY, owner="t1")
    make_stale(ch, ledger)
    for table in TABLES:
        ch.query(tq("patch_parts_off"), {"t": table})
    try:
        assert not patch_parts(ch).ready and patch_parts(ch).tables == 0
        before = mutations(ch)
        assert recompute_team_day(ch, ledger, TEAM, DAY, owner="t2")["status"] == "done"
        after = mutations(ch)
        assert all(after[t] == before[t] + 1 for t in TABLES)  # one mutation per table
        assert not detect(ch, ledger, [TEAM], Window(DAY, DAY)).stale
        for table in TABLES:
            assert finalized(ch, table, TEAM, DAY) == from_scratch(ch, table, TEAM, DAY)
    finally:
        assert enable_patch_parts(ch).ready


def test_a_reader_never_sees_a_replaced_team_day_twice_or_in_part(world, ledger):
    """Each replacement deletes the team's rows (one patch part) and copies the new ones (one part):
    a reader sees the old team-day, the new one, or, between the two statements, none of it; never
    both and never a part. Five replacements, each after more late pageviews."""
    ch = world
    recompute_team_day(ch, ledger, TEAM, DAY, owner="t0")
    complete = {t: {team_day_totals(ch, t, TEAM, DAY, None)} for t in TABLES}  # (rows, pageviews)
    seen: list[tuple[str, int, int]] = []
    first_read, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def reader():
        try:
            while not stop.is_set():
                for table in TABLES:
                    seen.append((table, *team_day_totals(ch, table, TEAM, DAY, None)))
                first_read.set()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            first_read.set()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert first_read.wait(60)
        for i in range(5):
            make_stale(ch, ledger, n=2)
            assert recompute_team_day(ch, ledger, TEAM, DAY, owner=f"r{i}")["status"] == "done"
            for table in TABLES:
                complete[table].add(team_day_totals(ch, table, TEAM, DAY, None))
    finally:
        stop.set()
        thread.join(60)
    assert not errors and len(seen) > 10
    assert all(len(states) == 6 for states in complete.values())  # every replacement changed the day
    for table, rows, pageviews in seen:  # never double, never partial: a complete state or nothing
        assert (rows, pageviews) in complete[table] or rows == 0, (table, rows, pageviews)
    assert sum(1 for _, rows, _ in seen if rows) > 0
