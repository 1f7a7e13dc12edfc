"""Values reach ClickHouse only as typed query parameters; bad values are refused before any query."""

from __future__ import annotations

import datetime as dt

import pytest

from backfill import sql as sqlt
from backfill.clickhouse import ClickHouse

COUNT_TEAM = sqlt.Template("count_team", "SELECT count() AS n FROM events WHERE team_id = {team_id:Int64}")
COUNT_TEAMS = sqlt.Template(
    "count_teams", "SELECT count() AS n FROM events WHERE team_id IN {team_ids:Array(Int64)}"
)
COUNT_DAY = sqlt.Template("count_day", "SELECT count() AS n FROM events WHERE toDate(timestamp) = {day:Date}")

MALICIOUS = ["1; DROP TABLE events", "1) OR 1=1 --", "0 OR 1=1", 1.5, True, None, "42"]


@pytest.mark.parametrize("value", MALICIOUS)
def test_malicious_scalar_is_refused_before_any_query(value):
    # A server engine on a closed port: had the seam sent anything, it would fail with a network error.
    unreachable = ClickHouse("server", client_kwargs={"host": "127.0.0.1", "port": 1, "connect_timeout": 1})
    with pytest.raises(sqlt.QueryParameterError, match="team_id must be an integer"):
        unreachable.query(COUNT_TEAM, {"team_id": value})


@pytest.mark.parametrize("value", [["1; DROP TABLE events"], [1, "1) OR 1=1 --"], "1,2", [1, None]])
def test_malicious_array_is_refused(value):
    unreachable = ClickHouse("server", client_kwargs={"host": "127.0.0.1", "port": 1, "connect_timeout": 1})
    with pytest.raises(sqlt.QueryParameterError):
        unreachable.query(COUNT_TEAMS, {"team_ids": value})


def test_dates_must_be_dates():
    unreachable = ClickHouse("server", client_kwargs={"host": "127.0.0.1", "port": 1, "connect_timeout": 1})
    with pytest.raises(sqlt.QueryParameterError, match="must be a date"):
        unreachable.query(COUNT_DAY, {"day": "2024-01-01'); DROP TABLE events; --"})


def test_missing_and_unexpected_parameters_are_refused():
    with pytest.raises(sqlt.QueryParameterError, match="needs parameters"):
        sqlt.check_params(COUNT_TEAM, {})
    with pytest.raises(sqlt.QueryParameterError, match="does not take"):
        sqlt.check_params(COUNT_TEAM, {"team_id": 1, "extra": 2})


def test_valid_values_bind_server_side_on_the_real_engine(clickhouse):
    from devtools import demo_data as demo

    demo.generate(
        clickhouse, demo.DemoSpec(team_ids=(7, 8), days=2, sessions_per_day=20, persons_per_team=10)
    )
    before = clickhouse.scalar(COUNT_TEAMS, {"team_ids": [7, 8]})
    assert before > 0
    assert (
        clickhouse.scalar(COUNT_TEAM, {"team_id": 7}) + clickhouse.scalar(COUNT_TEAM, {"team_id": 8})
        == before
    )
    assert clickhouse.scalar(COUNT_DAY, {"day": dt.date(2024, 3, 1)}) > 0
    # the refused value did not touch the table
    with pytest.raises(sqlt.QueryParameterError):
        clickhouse.query(COUNT_TEAM, {"team_id": "1; DROP TABLE events"})
    assert clickhouse.scalar(COUNT_TEAMS, {"team_ids": [7, 8]}) == before


def test_the_engine_itself_rejects_text_in_a_typed_parameter(clickhouse):
    """Defence in depth: even bypassing the seam's check, chdb parses the value as Int64 and refuses."""
    from backfill.clickhouse.embedded import _EmbeddedSessions  # the process's one chdb session

    session = _EmbeddedSessions.get(clickhouse.path, 5)
    with pytest.raises(Exception, match="BAD_QUERY_PARAMETER|cannot be parsed"):
        session.query(COUNT_TEAM.text, "ArrowTable", params={"team_id": "1; DROP TABLE events"})


def test_every_write_carries_its_log_comment(clickhouse):
    """The delete of a team-day (the riskiest statement) is sent with DAG, team and day in its
    log_comment, after the template's own settings, and the engine accepts and runs it."""
    from backfill.clickhouse import QueryTag, with_settings

    tag = QueryTag("web_preagg_backfill", 42, dt.date(2024, 3, 1), "delete")
    sent = with_settings(sqlt.load("web_preagg/delete_team_day").text, {"log_comment": tag.comment()})
    assert sent.endswith(
        "lightweight_deletes_sync = 2, log_comment='dag=web_preagg_backfill team=42 day=2024-03-01 delete'"
    ), sent
    insert_row = sqlt.Template(
        "row",
        """INSERT INTO web_pre_aggregated_stats (period_bucket, team_id)
        SELECT toDateTime('2024-03-01 10:00:00', 'UTC'), {team_id:Int64}""",
    )
    for team in (42, 43):
        clickhouse.query(insert_row, {"team_id": team})
    clickhouse.query(
        "web_preagg/delete_team_day",
        {"target": "web_pre_aggregated_stats", "team_id": 42, "day": dt.date(2024, 3, 1)},
        tag=tag,
    )
    left = clickhouse.query(sqlt.Template("left", "SELECT team_id FROM web_pre_aggregated_stats"))
    assert left == [{"team_id": 43}]
    assert with_settings("CREATE TABLE t (a Int8) ENGINE = Memory", {"log_comment": "x"}).startswith("CREATE")
    assert "log_comment" not in with_settings("CREATE TABLE t (a Int8) ENGINE = Memory", {"log_comment": "x"})
