"""The server path of the seam: typed parameters go out as server-side parameters, every query has a
query id and log_comment, and a query interrupted in the task (execution_timeout, SIGTERM) is killed
on the server by its id.

No ClickHouse server can run on these machines (no Docker, chdb is in-process), so this one test
stands in a recording client for clickhouse-driver's ``Client``; the SQL path itself is proven on the
real engine everywhere else.
"""

from __future__ import annotations

import datetime as dt

import clickhouse_driver
import pytest

from backfill import sql as sqlt
from backfill.clickhouse import ClickHouse, QueryTag

TEMPLATE = sqlt.Template(
    "t", "SELECT count() FROM events WHERE team_id = {team_id:Int64} AND toDate(timestamp) = {day:Date}"
)


class RecordingClient:
    calls: list[dict] = []
    hang_first = False

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def execute(self, query, params=None, **kw):
        RecordingClient.calls.append({"query": query, "params": params, "client": self.kwargs, **kw})
        if RecordingClient.hang_first and len(RecordingClient.calls) == 1:
            raise TimeoutError("execution_timeout while the query was running")
        return ([(7,)], [("count()", "UInt64")])

    def disconnect(self):
        pass


@pytest.fixture
def server(monkeypatch):
    RecordingClient.calls = []
    monkeypatch.setattr(clickhouse_driver, "Client", RecordingClient)
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="clickhouse_default",
        conn_type="clickhouse",
        host="ch.internal",
        port=9000,
        login="airflow",
        password="pw",
        schema="analytics",
    )
    return ClickHouse.from_connection(conn)


def test_values_travel_as_server_side_parameters(server):
    rows = server.query(
        TEMPLATE,
        {"team_id": 42, "day": dt.date(2024, 3, 1)},
        tag=QueryTag("web_preagg_backfill", 42, dt.date(2024, 3, 1), "detect"),
    )
    assert rows == [{"count()": 7}]
    call = RecordingClient.calls[0]
    assert call["query"] == TEMPLATE.text, "the SQL text is sent unchanged: no value formatted into it"
    assert call["params"] == {"team_id": 42, "day": dt.date(2024, 3, 1)}
    assert call["client"]["settings"]["server_side_params"] is True
    assert call["client"]["host"] == "ch.internal" and call["client"]["database"] == "analytics"
    assert call["settings"]["log_comment"] == "dag=web_preagg_backfill team=42 day=2024-03-01 detect"
    assert call["query_id"].startswith("web_preagg_backfill-")


def test_an_interrupted_query_is_killed_by_its_id(server):
    RecordingClient.hang_first = True
    try:
        with pytest.raises(TimeoutError):
            server.query(TEMPLATE, {"team_id": 1, "day": dt.date(2024, 3, 1)}, tag=QueryTag("d", 1))
    finally:
        RecordingClient.hang_first = False
    first, kill = RecordingClient.calls
    assert kill["query"].startswith("KILL QUERY WHERE query_id = {query_id:String}")
    assert kill["params"] == {"query_id": first["query_id"]}
