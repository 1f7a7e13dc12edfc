"""Edge values from real sources: epoch and pre-epoch timestamps (broken client clocks)."""

from __future__ import annotations

import datetime as dt
import logging

from duckling_helpers import ch_exec

from backfill.duckling.detect import detect_full, earliest_days
from backfill.duckling.run import RunInfo

INSERT_EVENT = (
    "INSERT INTO events SELECT generateUUIDv4(), '$pageview', '{}', {ts:DateTime64(6, 'UTC')}, {team:Int64}, "
    "'d', generateUUIDv4(), '', '', now(), now()"
)


def _event(env, team, ts):
    ch_exec(env, INSERT_EVENT, {"team": team, "ts": ts})


def test_pre_epoch_is_ignored_and_epoch_is_clamped_to_the_floor(env, make_duckling, caplog, monkeypatch):
    utc = dt.UTC
    for ts in (dt.datetime(1960, 5, 1, tzinfo=utc), dt.datetime(1969, 12, 31, 23, tzinfo=utc)):
        _event(env, 13, ts)  # toDate would wrap these to 2139 and 2149
    _event(env, 13, dt.datetime(2024, 3, 5, 10, tzinfo=utc))
    _event(env, 14, dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=utc))  # a client clock at zero
    _event(env, 14, dt.datetime(2024, 3, 5, 10, tzinfo=utc))
    monkeypatch.setenv("DUCKLING_EARLIEST_DAY_FLOOR", "2024-03-01")
    with caplog.at_level(logging.WARNING):
        got = earliest_days([13, 14], env)
    assert got == {13: dt.date(2024, 3, 5), 14: dt.date(2024, 3, 1)}
    assert "team 14 (1970-01-01)" in caplog.text and "team 13" not in caplog.text
    # the walk from the floor is bounded: days since the floor, never since 1970
    for team in (13, 14):
        make_duckling(team)
    plan = detect_full(
        {"kinds": ["events"], "end_date": "2024-03-06", "dry_run": True},
        RunInfo("duckling_full_backfill", "edges"),
        env,
    )
    # remaining work is the days that hold events (days without any are marked done in bulk, not walked)
    assert plan["summary"]["remaining_days"] == {"13": 1, "14": 1}
    assert plan["summary"]["would_do"] == ["team 13 · 2024-03-05 · events", "team 14 · 2024-03-05 · events"]
