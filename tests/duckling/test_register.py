"""Export + register against the real stack: counts, one copy, refusal of a registered path, atomicity."""

from __future__ import annotations

from duckling_helpers import DAYS, ch_day_counts, lake_day_counts, run_partition


def test_events_two_teams_counts_match(env, demo_data, make_duckling):
    for team in demo_data.team_ids:
        make_duckling(team)
        for day in DAYS:
            out = run_partition(env, team, day)
            assert out["status"] == "done"
        assert lake_day_counts(env, team) == ch_day_counts(env, team)
