"""The detector and both pre-aggregation inserts must assign events to days by the same rule (the
session's start, read from the same event window). The rule is written in three templates; this test
fails the moment one of them drifts."""

from __future__ import annotations

import re

from backfill import sql as sqlt

TEMPLATES = ("web_preagg/detect", "web_preagg/stats_insert", "web_preagg/bounces_insert")
RULE = [
    "FROM events FINAL",
    "WHERE team_id IN {team_ids:Array(Int64)}",
    "AND timestamp >= toDateTime64({start_day:Date} - 1, 6, 'UTC')",
    "AND timestamp < toDateTime64({end_day:Date} + 2, 6, 'UTC')",
    "AND _timestamp <= {as_of:DateTime64(6, 'UTC')}",
    "AND session_id != ''",
    "GROUP BY team_id, session_id",
    "HAVING session_start >= toDateTime64({start_day:Date}, 6, 'UTC')",
    "AND session_start < toDateTime64({end_day:Date} + 1, 6, 'UTC')",
]


def _lines(name: str) -> list[str]:
    return [re.sub(r"\s+", " ", line.strip()) for line in sqlt.load(name).text.splitlines()]


def test_every_template_uses_the_same_session_start_window():
    for name in TEMPLATES:
        lines = _lines(name)
        starts = [i for i, line in enumerate(lines) if line == RULE[0]]
        assert any(lines[i : i + len(RULE)] == RULE for i in starts), f"{name} drifted from the day rule"


def test_session_start_is_the_minimum_timestamp_everywhere():
    for name in TEMPLATES:
        assert "min(timestamp) AS session_start" in sqlt.load(name).text, name
