"""The detector and both pre-aggregation inserts must count the same events on the same days: the
rule (which events count, and the day of their session's start) is written once, in
include/sql/web_preagg/fragments, and every template includes it. This test fails the moment a
template stops including it or copies the rule instead."""

from __future__ import annotations

import datetime as dt

from wp_helpers import finalized, tq

from backfill import sql as sqlt
from backfill.clickhouse import QueryTag
from backfill.web_preagg import TABLES
from backfill.web_preagg.detect import query_coverage
from backfill.web_preagg.params import Window
from backfill.web_preagg.recompute import insert_preaggregated

TEMPLATES = ("web_preagg/detect", "web_preagg/stats_insert", "web_preagg/bounces_insert")
COUNTED = "web_preagg/fragments/counted_events"
SESSIONS = "web_preagg/fragments/sessions_started"


def test_every_template_includes_the_one_rule():
    for name in TEMPLATES:
        assert {COUNTED, SESSIONS} <= sqlt.includes(name), name
        text = sqlt.load(name).text
        assert text.count("FROM raw_sessions") == 1 and text.count("FROM events\n") == 1, name


def test_the_session_start_is_the_first_event_and_the_cutoff_is_one_hour_after_its_day():
    sessions = sqlt.load(SESSIONS).text
    assert "min(min_timestamp) AS start_timestamp" in sessions
    counted = sqlt.load(COUNTED).text
    assert "event IN ('$pageview', '$screen')" in counted
    assert "toDate(s.start_timestamp, 'UTC'), 6, 'UTC') + INTERVAL 25 HOUR" in counted


def test_a_window_of_many_days_counts_what_its_days_count_one_by_one(world):
    """The cutoff is per session day: detection over 10 days and the one-day inserts agree per day."""
    ch = world
    window = Window(dt.date(2024, 3, 10), dt.date(2024, 3, 19))
    coverage = query_coverage(ch, [1, 3], window, TABLES, QueryTag("tests"))
    many = {(c.team_id, c.day): c.source_pageviews for c in coverage if c.source_pageviews}
    one_by_one = {}
    for day in _days(window):
        for c in query_coverage(ch, [1, 3], Window(day, day), TABLES, QueryTag("tests")):
            if c.source_pageviews:
                one_by_one[(c.team_id, c.day)] = c.source_pageviews
    assert many == one_by_one and len(many) == 20
    # and a multi-day insert writes exactly what one-day inserts write
    multi = _inserted(ch, window, [(window.start, window.end)])
    single = _inserted(ch, window, [(d, d) for d in _days(window)])
    assert multi == single


def _days(window: Window) -> list[dt.date]:
    return [window.start + dt.timedelta(days=i) for i in range(window.days)]


def _inserted(ch, window: Window, runs) -> dict:
    out = {}
    for table in TABLES:
        ch.query(tq("truncate"), {"t": table})
        for start, end in runs:
            insert_preaggregated(ch, table, table, [1, 3], start, end, QueryTag("tests"))
        out[table] = {(t, d): finalized(ch, table, t, d) for t in (1, 3) for d in _days(window)}
    return out
