"""Failure alerts through real receivers on loopback: a web_preagg run with a failed team-day pages once
per configured channel (Slack's incoming webhook, SMTP, HTTP), each message naming the DAG, the failed
partition (team, day, kind, error class) and the run's link. Channels come from the Variable
``backfill_alerts``; connections from the environment, as a deployment sets them."""

from __future__ import annotations

import datetime as dt
import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from test_dag import CONF, run

from backfill import alerts
from backfill.ledger import DONE, FAILED
from backfill.web_preagg import FAMILY

FAILING_DAY = dt.date(2024, 3, 31)


class DiskFull(RuntimeError):
    transient = False  # permanent: no retry, so the run fails within dag.test()


@pytest.fixture
def http_receiver():
    """An HTTP server on loopback that keeps (path, JSON body) of every POST."""
    got: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the stdlib's name)
            got.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], got
    server.shutdown()


@pytest.fixture
def smtp_receiver():
    """aiosmtpd's SMTP server on loopback; keeps every message it is sent."""
    from aiosmtpd.controller import Controller

    got: list[email.message.Message] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            got.append(email.message_from_bytes(envelope.original_content or envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, got
    controller.stop()


@pytest.fixture
def channels(http_receiver, smtp_receiver, monkeypatch):
    port, _ = http_receiver
    smtp_port, _ = smtp_receiver
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS",
        json.dumps(
            {"conn_type": "slackwebhook", "password": f"http://127.0.0.1:{port}/services/T000/B000/XXXX"}
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_ALERTS",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {"disable_ssl": True, "disable_tls": True},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_HTTP_ALERTS",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http"}),
    )
    monkeypatch.setenv("AIRFLOW_VAR_BACKFILL_ALERTS", json.dumps({"channels": [
        {"kind": "slack", "conn_id": "slack_alerts"},
        {"kind": "smtp", "conn_id": "smtp_alerts", "to": ["oncall@example.com"], "from_email": "airflow@example.com"},
        {"kind": "http", "conn_id": "http_alerts", "endpoint": "/hook"},
    ]}))  # fmt: skip
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")


def _fail_one_day(monkeypatch):
    from backfill.web_preagg import recompute

    real = recompute.recompute_table

    def failing(ch, table, team_id, day, *a, **k):
        if day == FAILING_DAY:
            raise DiskFull("no space left on the ClickHouse volume")
        return real(ch, table, team_id, day, *a, **k)

    monkeypatch.setattr(recompute, "recompute_table", failing)


def test_a_failed_partition_pages_once_through_each_channel(
    world, ledger, connections, dag, channels, http_receiver, smtp_receiver, monkeypatch
):
    _, posts = http_receiver
    _, mails = smtp_receiver
    _fail_one_day(monkeypatch)
    dr, states = run(dag, {**CONF, "team_ids": [1], "min_missing_partitions": 1})
    assert str(dr.state) == "failed", states
    rows = {r["day"]: r["status"] for r in ledger.rows(FAMILY)}
    assert rows[FAILING_DAY] == FAILED and DONE in rows.values()

    line = f"team 1, {FAILING_DAY}, team_day: DiskFull"
    url = f"https://airflow.example.com/dags/web_preagg_backfill/runs/{dr.run_id.replace(':', '%3A').replace('+', '%2B')}"
    slack = [body for path, body in posts if path.startswith("/services/")]
    hook = [body for path, body in posts if path == "/hook"]
    assert len(slack) == 1 and len(hook) == 1 and len(mails) == 1, (posts, mails)
    # Slack: the text names the DAG, the partition and links to the run
    assert f"web_preagg_backfill run {dr.run_id} failed" in slack[0]["text"]
    assert line in slack[0]["text"] and url in slack[0]["text"]
    # HTTP: the same text, and the partitions as data
    assert hook[0]["failed_partitions"] == [
        {"team_id": 1, "day": str(FAILING_DAY), "kind": "team_day", "error_class": "DiskFull"}
    ]
    assert hook[0]["dag_id"] == "web_preagg_backfill" and hook[0]["url"] == url
    # SMTP: read back from the receiver
    mail = mails[0]
    assert mail["To"] == "oncall@example.com" and "web_preagg_backfill" in mail["Subject"]
    body = "".join(
        part.get_payload(decode=True).decode()
        for part in mail.walk()
        if part.get_content_type() == "text/html"
    )
    assert line in body and url.replace("&", "&amp;") in body


def test_a_successful_run_pages_no_one(
    world, ledger, connections, dag, channels, http_receiver, smtp_receiver
):
    """The control: the same channels, no failure, nothing sent."""
    _, posts = http_receiver
    _, mails = smtp_receiver
    dr, states = run(dag, {**CONF, "team_ids": [1], "min_missing_partitions": 1})
    assert str(dr.state) == "success", states
    assert posts == [] and mails == []


def test_the_late_run_deadline_pages_through_airflows_callback_runner(channels, http_receiver):
    """A daily DAG's deadline alert (BACKFILL_LATE_RUN_MINUTES): its callback, run by Airflow's own
    callback function as the executor runs it, pages through the same channels."""
    import structlog
    from airflow.sdk.execution_time.callback_supervisor import execute_callback

    assert alerts.late_run_deadline("web_preagg_backfill", minutes=0) is None  # off: no deadline at all
    deadline = alerts.late_run_deadline("web_preagg_backfill", minutes=30)
    assert deadline.interval == dt.timedelta(minutes=30)
    ok, error = execute_callback(
        deadline.callback.path,
        {**deadline.callback.kwargs, "context": {"dag_run": {"dag_id": "web_preagg_backfill", "run_id": "scheduled__x"}}},
        dag_rel_path="web_preagg_backfill.py", bundle_path=None, log=structlog.get_logger(),
    )  # fmt: skip
    assert ok, error
    _, posts = http_receiver
    [hook] = [body for path, body in posts if path == "/hook"]
    assert hook["text"].startswith("backfill: web_preagg_backfill run scheduled__x is late")
    assert "still not finished 30 minutes after it was queued" in hook["text"]


@pytest.mark.parametrize(
    "raw, message",
    [
        ("not json", "is not JSON"),
        ({"channels": [{"kind": "pager", "conn_id": "x"}]}, "kind must be one of slack, smtp, http"),
        ({"channels": [{"kind": "http", "conn_id": "a b"}]}, "conn_id must be a connection id"),
        ({"channels": [{"kind": "smtp", "conn_id": "smtp_default"}]}, "smtp needs 'to'"),
        ({"slack": "x"}, 'must be {"channels": [...]}'),
    ],
)
def test_a_bad_variable_is_a_clear_error(raw, message):
    with pytest.raises(alerts.AlertConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        alerts.parse_channels(raw)
