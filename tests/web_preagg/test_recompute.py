"""Detection and recomputation against the real engines: chdb (ClickHouse) and PostgreSQL (ledger)."""

from __future__ import annotations

import datetime as dt

import oracle
import sqlalchemy as sa
from wp_helpers import (
    ENABLED,
    EXPECTED_MISSING,
    NOT_ENABLED,
    SPEC,
    WINDOW_END,
    D,
    finalized,
    from_scratch,
    oracle_team_day,
    python_hourly_pageviews,
    python_team_day_pageviews,
    raw_rows,
    rows_except,
    tq,
)

from backfill.ledger import CLAIMED, DONE, FAILED, PartitionKey, utcnow
from backfill.web_preagg import BOUNCES, FAMILY, KIND, STATS, TABLES
from backfill.web_preagg.cleanup import cleanup_ledger, drop_orphan_staging
from backfill.web_preagg.detect import detect
from backfill.web_preagg.params import Window
from backfill.web_preagg.recompute import recompute_team_day, staging_name

WINDOW = Window(SPEC.start_day, WINDOW_END)


def test_detection_matches_independent_python(world, ledger):
    ch = world
    d = detect(ch, ledger, list(ENABLED), WINDOW)
    got = {(m.team_id, m.day): set(m.tables) for m in d.missing}
    assert got == EXPECTED_MISSING
    assert d.stale == []
    # independent: every team-day with traffic per the Python computation is missing or complete
    expected = python_team_day_pageviews(ch, ENABLED, WINDOW.start, WINDOW.end)
    assert (2, D(2024, 3, 10)) not in expected  # the quiet day: no traffic, so never missing
    assert {(p.team_id, p.day) for p in d.present} | set(got) == set(expected)
    assert {(c.team_id, c.day): c.source_pageviews for c in d.coverage} == expected
    # sessions crossing midnight exist and count in the day they started
    assert python_team_day_pageviews(ch, ENABLED, WINDOW.end, WINDOW.end) != {}


def test_detection_covers_every_team_not_just_one(world, ledger):
    d = detect(world, ledger, [3, 1], WINDOW)
    assert {m.team_id for m in d.missing} == {1, 3}
    assert detect(world, ledger, [NOT_ENABLED], WINDOW).missing == []
    assert detect(world, ledger, [], WINDOW).coverage == []


def test_recompute_equals_from_scratch_and_leaves_other_teams_byte_identical(world, ledger):
    ch = world
    before = raw_rows(ch)
    team_id, day = 1, D(2024, 3, 5)
    res = recompute_team_day(ch, ledger, team_id, day, TABLES, owner="test-a")
    assert res["status"] == "done"
    for table in TABLES:
        assert finalized(ch, table, team_id, day) == from_scratch(ch, table, team_id, day)
        assert finalized(ch, table, team_id, day) != []
    hourly = {r["bucket"]: 0 for r in finalized(ch, STATS, team_id, day)}
    for r in finalized(ch, STATS, team_id, day):
        hourly[r["bucket"]] += r["pageviews"]
    assert hourly == python_hourly_pageviews(ch, team_id, day)
    after = raw_rows(ch)
    assert rows_except(after, {(team_id, day)}) == rows_except(before, {(team_id, day)})
    row = ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day)[0]
    assert (
        row["status"] == DONE
        and row["source_count"] == python_team_day_pageviews(ch, [1], day, day)[(1, day)]
    )
    assert detect(ch, ledger, [team_id], Window(day, day)).missing == []


def test_recompute_twice_is_identical(world, ledger):
    ch = world
    team_id, day = 3, D(2024, 3, 20)
    recompute_team_day(ch, ledger, team_id, day, TABLES, owner="run-1")
    first = raw_rows(ch, day, day)
    recompute_team_day(ch, ledger, team_id, day, TABLES, owner="run-2")
    assert raw_rows(ch, day, day) == first
    assert ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day)[0]["attempts"] == 2


def test_recompute_present_day_changes_nothing(world, ledger):
    ch = world
    day = D(2024, 3, 15)
    before = raw_rows(ch, day, day)
    recompute_team_day(ch, ledger, 2, day, TABLES, owner="t")
    after = raw_rows(ch, day, day)
    for table in TABLES:  # same values (the parts differ: the team's rows were rewritten)
        assert sorted(r for r in after[table] if r[0] != 2) == sorted(r for r in before[table] if r[0] != 2)
        assert finalized(ch, table, 2, day) == from_scratch(ch, table, 2, day)


def test_zero_rows_recomputed_leaves_zero_rows(world, ledger):
    """A team-day with rows the source does not back (events deleted since): stale; the recompute
    produces zero rows and leaves zero rows."""
    ch = world
    day = D(2024, 3, 10)
    ch.query(tq("orphan_rows"), {"from_team": 1, "to_team": 99, "day": day})
    d = detect(ch, ledger, [99], Window(day, day))
    assert [(s.team_id, s.day) for s in d.stale] == [(99, day)] and d.missing == []
    assert "source 0" in d.stale[0].reason
    res = recompute_team_day(ch, ledger, 99, day, TABLES, owner="t")
    assert res["status"] == "done" and res["source_pageviews"] == 0
    for table in TABLES:
        assert finalized(ch, table, 99, day) == []
    assert detect(ch, ledger, [99], Window(day, day)).coverage == []


def test_live_claim_of_another_owner_is_skipped(world, ledger):
    ch = world
    team_id, day = 1, D(2024, 3, 31)
    key = PartitionKey(FAMILY, team_id, day, KIND)
    assert ledger.claim(key, "other-run", lease_seconds=600)
    before = raw_rows(ch, day, day)
    res = recompute_team_day(ch, ledger, team_id, day, TABLES, owner="me")
    assert res["status"] == "skipped" and "other-run" in res["detail"]
    assert raw_rows(ch, day, day) == before
    row = ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day)[0]
    assert row["claim_owner"] == "other-run" and row["status"] == CLAIMED


def test_expired_claim_is_taken_over(world, ledger):
    ch = world
    team_id, day = 1, D(2024, 3, 31)
    key = PartitionKey(FAMILY, team_id, day, KIND)
    assert ledger.claim(key, "killed-run", lease_seconds=600)
    t = ledger.t
    with ledger.db.engine.begin() as conn:  # the killed task's lease ran out
        conn.execute(
            sa.update(t).where(key.where(t)).values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    res = recompute_team_day(ch, ledger, team_id, day, TABLES, owner="me")
    assert res["status"] == "done"
    row = ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day)[0]
    assert row["claim_owner"] == "me" and row["status"] == DONE and row["attempts"] == 2
    for table in TABLES:
        assert finalized(ch, table, team_id, day) == from_scratch(ch, table, team_id, day)


def test_late_events_make_a_day_stale_and_duplicates_do_not_when_deduped(world, ledger):
    ch = world
    team_id, day = 2, D(2024, 3, 15)
    recompute_team_day(ch, ledger, team_id, day, TABLES, owner="t", dedupe_events=True)
    ch.query(tq("duplicate_events"), {"team_id": team_id, "day": day})  # same uuids: deduplicated
    assert detect(ch, ledger, [team_id], Window(day, day), dedupe_events=True).stale == []
    ch.query(tq("late_pageviews"), {"team_id": team_id, "day": day, "n": 3})
    d = detect(ch, ledger, [team_id], Window(day, day), dedupe_events=True)
    assert [(s.team_id, s.day) for s in d.stale] == [(team_id, day)]
    baseline = ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day)[0]["source_count"]
    assert f"{baseline} -> {baseline + 3}" in d.stale[0].reason
    recompute_team_day(ch, ledger, team_id, day, TABLES, owner="t2", dedupe_events=True)
    assert detect(ch, ledger, [team_id], Window(day, day), dedupe_events=True).stale == []
    for table in TABLES:
        assert finalized(ch, table, team_id, day) == from_scratch(ch, table, team_id, day, dedupe_events=True)


def test_by_default_stored_duplicates_count_as_the_daily_job_reads_them(world, ledger):
    """PostHog's daily job reads events without FINAL: a re-ingested event counts until ClickHouse
    merges it away. The default reads the same way, in detection and the inserts alike."""
    ch = world
    team_id, day = 2, D(2024, 3, 15)
    recompute_team_day(ch, ledger, team_id, day, TABLES, owner="t")
    ch.query(tq("merges_stop"))  # the duplicates stay stored while the test reads them
    try:
        ch.query(tq("duplicate_events"), {"team_id": team_id, "day": day})
        assert detect(ch, ledger, [team_id], Window(day, day), dedupe_events=True).stale == []
        d = detect(ch, ledger, [team_id], Window(day, day))
        assert [(s.team_id, s.day) for s in d.stale] == [(team_id, day)]
        baseline = ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day)[0]["source_count"]
        expected = oracle_team_day(ch, team_id, day)  # every stored row, as the daily job
        counted = sum(r["pageviews"] for r in expected["stats"])
        assert counted > baseline and f"{baseline} -> {counted}" in d.stale[0].reason
        recompute_team_day(ch, ledger, team_id, day, TABLES, owner="t2")
        assert detect(ch, ledger, [team_id], Window(day, day)).stale == []
        assert oracle.comparable(finalized(ch, STATS, team_id, day)) == expected["stats"]
        assert oracle.comparable(finalized(ch, BOUNCES, team_id, day)) == expected["bounces"]
    finally:
        ch.query(tq("merges_start"))


def test_daily_job_days_without_ledger_baseline_are_checked_against_target(world, ledger):
    ch = world
    ch.query(tq("late_pageviews"), {"team_id": 3, "day": D(2024, 3, 12), "n": 2})
    d = detect(ch, ledger, [3], Window(D(2024, 3, 12), D(2024, 3, 12)))
    assert len(d.stale) == 1 and set(d.stale[0].tables) == set(TABLES)


def test_one_table_only(world, ledger):
    ch = world
    d = detect(ch, ledger, list(ENABLED), WINDOW, (STATS,))
    assert {(m.team_id, m.day) for m in d.missing} == {
        (1, D(2024, 3, 5)),
        (2, D(2024, 3, 28)),
        (1, D(2024, 3, 31)),
    }
    before = raw_rows(ch, D(2024, 3, 28), D(2024, 3, 28))
    recompute_team_day(ch, ledger, 2, D(2024, 3, 28), (STATS,), owner="t")
    after = raw_rows(ch, D(2024, 3, 28), D(2024, 3, 28))
    assert after[BOUNCES] == before[BOUNCES]
    assert finalized(ch, STATS, 2, D(2024, 3, 28)) == from_scratch(ch, STATS, 2, D(2024, 3, 28))


def test_failure_is_recorded_and_staging_dropped(world, ledger, monkeypatch):
    ch = world
    from backfill.web_preagg import recompute as rc

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(rc, "team_day_totals", broken)
    import pytest

    with pytest.raises(RuntimeError, match="boom"):
        recompute_team_day(ch, ledger, 1, D(2024, 3, 5), TABLES, owner="t")
    row = ledger.rows(FAMILY, team_ids=[1], start=D(2024, 3, 5), end=D(2024, 3, 5))[0]
    assert row["status"] == FAILED and "boom" in row["error"]
    assert ch.query("web_preagg/staging_list", {}) == []


def test_cleanup_ledger_and_orphan_staging(world, ledger):
    ch = world
    old = utcnow() - dt.timedelta(days=200)
    today = utcnow().date()
    t = ledger.t
    rows = [  # (day, status, source_count, updated_at) -> kept?
        (today - dt.timedelta(days=400), DONE, 10, old, False),  # baseline older than 365 days
        (today - dt.timedelta(days=200), DONE, 10, old, True),  # baseline within 365 days
        (today - dt.timedelta(days=200), FAILED, None, old, False),  # no baseline, older than 90 days
        (today - dt.timedelta(days=5), FAILED, None, utcnow(), True),  # recent
    ]
    with ledger.db.engine.begin() as conn:
        for i, (day, status, sc, upd, _) in enumerate(rows):
            conn.execute(
                sa.insert(t).values(
                    family=FAMILY,
                    team_id=100 + i,
                    day=day,
                    kind=KIND,
                    status=status,
                    source_count=sc,
                    updated_at=upd,
                    attempts=1,
                )
            )
    out = cleanup_ledger(ledger)
    assert out["ledger_rows_removed"] == 2
    left = {r["team_id"] for r in ledger.rows(FAMILY)}
    assert left == {100 + i for i, r in enumerate(rows) if r[4]}
    fresh = staging_name(STATS, 1, D(2024, 3, 1))
    stale = staging_name(STATS, 1, D(2024, 3, 1), now=1_000_000)
    for name in (fresh, stale):
        ch.query("web_preagg/stats_staging_create", {"staging": name})
    assert drop_orphan_staging(ch) == [stale]
    assert [r["name"] for r in ch.query("web_preagg/staging_list", {})] == [fresh]
    ch.query("web_preagg/staging_drop", {"staging": fresh})


def test_top_teams_by_median_daily_pageviews(world):
    from collections import defaultdict
    from statistics import median

    from backfill.clickhouse import QueryTag
    from backfill.web_preagg.select_teams import top_teams

    rows = world.query(
        tq("events_rows"), {"team_ids": list(SPEC.team_ids), "start_day": WINDOW.start, "end_day": WINDOW.end}
    )
    daily = defaultdict(int)
    for r in rows:
        ts = r["timestamp"].astimezone(dt.UTC)
        if r["event"] in ("$pageview", "$screen") and WINDOW.start <= ts.date() <= WINDOW.end:
            daily[(r["team_id"], ts.date())] += 1
    medians = {
        t: median([daily.get((t, WINDOW.start + dt.timedelta(days=i)), 0) for i in range(WINDOW.days)])
        for t in SPEC.team_ids
    }
    expected = sorted(sorted(medians, key=lambda t: (-medians[t], t))[:2])
    assert top_teams(world, WINDOW, 2, QueryTag("tests")) == expected


def test_demo_summaries(world, ledger):
    from devtools.demo import gap_summary, ledger_summary

    before = gap_summary(world, ledger, list(ENABLED), WINDOW.start, WINDOW.end)
    assert before["missing_partitions"] == {"stats": 3, "bounces": 3} and before["missing_team_days"] == 4
    recompute_team_day(world, ledger, 1, D(2024, 3, 5), TABLES, owner="demo")
    after = gap_summary(world, ledger, list(ENABLED), WINDOW.start, WINDOW.end)
    assert after["missing_team_days"] == 3 and after["stale_team_days"] == 0
    assert ledger_summary(ledger, WINDOW.start, WINDOW.end) == {
        "by_status": {"done": 1},
        "team_days": 1,
        "failed": [],
    }


def test_the_team_day_delete_works_with_and_without_lightweight_update_settings(world):
    """Production tables carry no block-number columns (the schema's own table has none); a table created
    with the lightweight-update settings must work too: the per-team delete removes one team's day and
    nothing else on both variants."""
    import re

    from backfill import sql as sqlt
    from backfill.clickhouse import QueryTag
    from backfill.web_preagg.recompute import insert_preaggregated

    ch, day = world, D(2024, 3, 12)
    ddl = re.sub(r"--[^\n]*\n", "", sqlt.load("schema/clickhouse/10_web_pre_aggregated_stats").text)
    assert "SETTINGS" not in ddl
    with_settings = ddl.rstrip().rstrip(";").replace("web_pre_aggregated_stats", "wp_stats_with_settings") + (
        "\nSETTINGS enable_block_number_column = 1, enable_block_offset_column = 1"
    )
    variants = {"without settings": STATS, "with settings": "wp_stats_with_settings"}
    ch.query(sqlt.Template("tests/drop_variant", "DROP TABLE IF EXISTS wp_stats_with_settings"))
    ch.query(sqlt.Template("tests/create_variant", with_settings))
    insert_preaggregated(ch, STATS, "wp_stats_with_settings", [1, 2, 3], day, day, QueryTag("tests"))
    for name, table in variants.items():
        others = {t: finalized(ch, STATS, t, day, table) for t in (2, 3)}
        assert finalized(ch, STATS, 1, day, table), name
        ch.query("web_preagg/delete_team_day", {"target": table, "team_id": 1, "day": day})
        assert finalized(ch, STATS, 1, day, table) == [], name
        assert {t: finalized(ch, STATS, t, day, table) for t in (2, 3)} == others, name
