"""The freshness DAG under dag.test(): a team whose yesterday is not complete by the deadline fails its
family's check task with a message naming the team and the days, and the HTTP notifier posts that
message to a receiver on loopback; a per-team deadline in the Variable spares it."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from backfill.coverage import CoverageStore, Observation
from devtools import appdb_setup

RUN_AT = dt.datetime(2026, 3, 2, 7, 15, tzinfo=dt.UTC)  # the check's "now": its run's logical date
YESTERDAY = RUN_AT.date() - dt.timedelta(days=1)


@pytest.fixture
def receiver():
    """An HTTP server on loopback that keeps every JSON body posted to it."""
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the stdlib's name)
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], bodies
    server.shutdown()


def _states(dr) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dr.get_task_instances()}


def test_a_missed_objective_fails_loudly_and_alerts(dag_module, appdb, receiver, monkeypatch):
    port, bodies = receiver
    monkeypatch.setenv("AIRFLOW_CONN_BACKFILL_ALERTS", f"http://127.0.0.1:{port}")
    appdb_setup.upsert_teams(appdb, [{"id": t, "name": f"t{t}", "web_analytics_pre_aggregated_tables_enabled": True}
                        for t in (7, 8)])  # fmt: skip
    store = CoverageStore(appdb)
    observed = [Observation(8, YESTERDAY, 40, 40, "done"), Observation(7, YESTERDAY, 12, 0, "missing")]
    observed += [Observation(t, YESTERDAY - dt.timedelta(days=1), 30, 30, "done") for t in (7, 8)]
    store.record("web_preagg", observed, dag_id="web_preagg_backfill", run_id="r1")

    module = dag_module("backfill_freshness")
    dr = module.backfill_freshness().test(logical_date=RUN_AT)
    assert _states(dr) == {"check_web_preagg": "failed", "check_duckling": "success"}
    [alert] = bodies
    assert alert["task_id"] == "check_web_preagg" and alert["dag_id"] == "backfill_freshness"
    [line] = [x for x in alert["text"].splitlines() if x.startswith("team ")]
    assert line.startswith("team 7: not complete ") and f"{YESTERDAY} (+" in line  # never-checked days too
    assert (
        f"newest complete day {YESTERDAY - dt.timedelta(days=1)}, 1 day(s) behind, due by 06:00 UTC" in line
    )

    # a later deadline for team 7 in the Variable: the same state meets the objective at 07:15
    monkeypatch.setenv(
        "AIRFLOW_VAR_BACKFILL_FRESHNESS", json.dumps({"web_preagg": {"teams": {"7": "09:00"}}})
    )
    dr = (
        dag_module("backfill_freshness")
        .backfill_freshness()
        .test(logical_date=RUN_AT + dt.timedelta(minutes=1))
    )
    assert _states(dr) == {"check_web_preagg": "success", "check_duckling": "success"}
    assert len(bodies) == 1

    # a Variable that is not valid fails the check with a message saying what is wrong
    monkeypatch.setenv("AIRFLOW_VAR_BACKFILL_FRESHNESS", json.dumps({"web_preagg": {"deadline_utc": "6am"}}))
    dr = (
        dag_module("backfill_freshness")
        .backfill_freshness()
        .test(logical_date=RUN_AT + dt.timedelta(minutes=2))
    )
    assert _states(dr)["check_web_preagg"] == "failed"
    assert "not a UTC time of day HH:MM" in bodies[-1]["text"]
