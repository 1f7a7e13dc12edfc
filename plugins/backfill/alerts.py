"""Failure alerts, configured, not coded: every DAG of the package pages through the ecosystem's
notifiers (Slack's incoming webhook, SMTP, HTTP), chosen by the Variable ``backfill_alerts``.

A failed run sends one message (never one per partition: a thousand failed team-days are one page):
the DAG, the run, each failed partition as ``team, day, kind: error class`` from the ledger rows this
run holds, and a link to the run in the UI. A task-level alert (the freshness check) sends the task's
error instead. The Variable is read when the alert is sent, so a change needs no redeploy:

    {"channels": [{"kind": "slack", "conn_id": "slack_alerts"},
                  {"kind": "smtp", "conn_id": "smtp_default", "to": ["oncall@example.com"],
                   "from_email": "airflow@example.com"},
                  {"kind": "http", "conn_id": "backfill_alerts", "endpoint": "/hooks/airflow"}]}

Without the Variable, alerts go to the HTTP connection ``backfill_alerts`` when it exists, else nowhere.
The message is sent as it is (``notify``, not the notifier's Jinja rendering): an error text can hold
``{{`` and must never be evaluated as a template. An alert that cannot be sent is logged and never fails
the callback (the run's own state is what matters).
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from backfill.settings import OBSERVABILITY

log = logging.getLogger(__name__)

KINDS = ("slack", "smtp", "http")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
MAX_LISTED = 50  # partitions named in one message; the rest are counted


class AlertConfigError(ValueError):
    """The Variable ``backfill_alerts`` is not what this module reads."""


@dataclass(frozen=True)
class Channel:
    kind: str
    conn_id: str
    to: tuple[str, ...] = ()
    from_email: str | None = None
    endpoint: str | None = None  # http: the path posted to, on the connection's host


def parse_channels(raw: Any) -> list[Channel]:
    """The Variable's value (JSON text or a dict) -> channels; a clear error for anything else."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise AlertConfigError(f"Variable {OBSERVABILITY.alerts_variable} is not JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("channels"), list):
        raise AlertConfigError(f'Variable {OBSERVABILITY.alerts_variable} must be {{"channels": [...]}}')
    out = []
    for i, item in enumerate(raw["channels"]):
        where = f"{OBSERVABILITY.alerts_variable} channel {i + 1}"
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            raise AlertConfigError(f"{where}: kind must be one of {', '.join(KINDS)}")
        conn_id = item.get("conn_id")
        if not isinstance(conn_id, str) or not _CONN_ID.match(conn_id):
            raise AlertConfigError(f"{where}: conn_id must be a connection id")
        to = item.get("to", [])
        to = [to] if isinstance(to, str) else to
        if item["kind"] == "smtp" and (not to or not all(isinstance(a, str) and "@" in a for a in to)):
            raise AlertConfigError(f"{where}: smtp needs 'to', a list of addresses")
        endpoint = item.get("endpoint")
        if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith("/")):
            raise AlertConfigError(f"{where}: endpoint must be a path starting with /")
        out.append(Channel(item["kind"], conn_id, tuple(to), item.get("from_email"), endpoint))
    return out


def configured_channels() -> list[Channel]:
    from backfill.run import variable_get

    raw = variable_get(OBSERVABILITY.alerts_variable)
    if raw is None:
        return (
            [Channel("http", OBSERVABILITY.alerts_http_conn_id)]
            if _exists(OBSERVABILITY.alerts_http_conn_id)
            else []
        )
    return parse_channels(raw)


def _exists(conn_id: str) -> bool:
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception:  # AirflowNotFoundException, and any secrets-backend error: no default channel
        return False
    return True


def run_url(dag_id: str, run_id: str) -> str:
    """The run's page in the UI ([api] base_url)."""
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def failed_partitions(dag_id: str, run_id: str) -> list[dict]:
    """The ledger rows this run holds that failed: team, day, kind, error class."""
    from backfill.appdb import AppDB
    from backfill.families import ALL
    from backfill.ledger import FAILED, Ledger, detail_of

    families = [f.name for f in ALL if dag_id in f.dag_ids]
    if not families:
        return []
    with AppDB.from_conn_id() as db:
        rows = Ledger(db).rows(families[0], status=FAILED, owner=f"{dag_id}:{run_id}")
    out = []
    for r in rows:
        error_class = detail_of(r).get("error_class") or (r.get("error") or "").split(":", 1)[0] or "error"
        out.append(
            {"team_id": r["team_id"], "day": str(r["day"]), "kind": r["kind"], "error_class": error_class}
        )
    return out


@dataclass(frozen=True)
class Alert:
    dag_id: str
    run_id: str
    url: str
    headline: str
    lines: tuple[str, ...]
    partitions: tuple[dict, ...] = ()
    task_id: str | None = None

    @property
    def text(self) -> str:
        return "\n".join([self.headline, *self.lines, f"run: {self.url}"])

    def as_json(self) -> dict:
        return {
            "text": self.text,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "url": self.url,
            "failed_partitions": list(self.partitions),
            **({"task_id": self.task_id} if self.task_id else {}),
        }


def run_failed_alert(dag_id: str, run_id: str, reason: str | None, partitions: list[dict]) -> Alert:
    lines = (
        [f"{len(partitions)} failed partition(s):"]
        if partitions
        else [f"reason: {reason or 'a task failed'}"]
    )
    lines += [
        f"  team {p['team_id']}, {p['day']}, {p['kind']}: {p['error_class']}" for p in partitions[:MAX_LISTED]
    ]
    if len(partitions) > MAX_LISTED:
        lines.append(f"  ... and {len(partitions) - MAX_LISTED} more (the run's report task lists them)")
    return Alert(dag_id, run_id, run_url(dag_id, run_id), f"backfill: {dag_id} run {run_id} failed",
                 tuple(lines), tuple(partitions))  # fmt: skip


def send(alert: Alert, context: Mapping[str, Any], channels: list[Channel] | None = None) -> list[str]:
    """Send through every channel; returns the kinds sent. A channel that fails is logged, not raised."""
    sent = []
    for channel in configured_channels() if channels is None else channels:
        try:
            _notifier(channel, alert).notify(context)
            sent.append(channel.kind)
        except Exception as exc:
            log.error(
                "alert through %s (%s) not sent: %s: %s",
                channel.kind,
                channel.conn_id,
                type(exc).__name__,
                exc,
            )
    return sent


def _notifier(channel: Channel, alert: Alert):
    if channel.kind == "slack":
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        return SlackWebhookNotifier(slack_webhook_conn_id=channel.conn_id, text=alert.text)
    if channel.kind == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        return SmtpNotifier(
            to=list(channel.to),
            from_email=channel.from_email,
            smtp_conn_id=channel.conn_id,
            subject=alert.headline,
            html_content=f"<pre>{html.escape(alert.text)}</pre>",
        )
    from airflow.providers.http.notifications.http import HttpNotifier

    return HttpNotifier(http_conn_id=channel.conn_id, endpoint=channel.endpoint, json=alert.as_json())


def on_run_failure(context: Mapping[str, Any]) -> None:
    """A DAG's ``on_failure_callback``: one message per failed run. Never raises."""
    try:
        dag_id = context["dag"].dag_id
        run_id = context["run_id"]
        try:
            partitions = failed_partitions(dag_id, run_id)
        except Exception as exc:  # the app DB is down: still page, without the list
            log.error("failed partitions of %s not read: %s", run_id, exc)
            partitions = []
        send(run_failed_alert(dag_id, run_id, context.get("reason"), partitions), context)
    except Exception:
        log.exception("the failure alert was not sent")


def on_task_failure(context: Mapping[str, Any]) -> None:
    """A task's ``on_failure_callback`` whose error is the message (the freshness check). Never raises."""
    try:
        dag_id, run_id, task_id = context["dag"].dag_id, context["run_id"], context["ti"].task_id
        error = str(context.get("exception") or "failed")
        headline = f"backfill: {dag_id}.{task_id} failed"
        send(Alert(dag_id, run_id, run_url(dag_id, run_id), headline, (error,), task_id=task_id), context)
    except Exception:
        log.exception("the failure alert was not sent")


def late_run_deadline(dag_id: str, minutes: int | None = None):
    """Airflow 3's deadline alert for a run still unfinished ``minutes`` (default: the environment's
    BACKFILL_LATE_RUN_MINUTES) after it was queued: the callback pages through the same channels. None
    when off (0) or on an Airflow without deadline alerts."""
    import datetime as dt

    minutes = OBSERVABILITY.late_run_after_minutes if minutes is None else minutes
    if not minutes:
        return None
    try:
        from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback
    except ImportError:  # Airflow < 3.1
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=dt.timedelta(minutes=minutes),
        callback=SyncCallback(on_late_run, kwargs={"dag_id": dag_id, "minutes": minutes}),
        name=f"{dag_id} late",
    )


def on_late_run(
    context: Mapping[str, Any] | None = None, dag_id: str = "", minutes: int = 0, **_: Any
) -> None:
    """The deadline's callback (run by the executor, with the run in ``context``). Never raises."""
    try:
        context = context or {}
        dag_run = context.get("dag_run") or {}
        run_id = dag_run.get("run_id") if isinstance(dag_run, Mapping) else getattr(dag_run, "run_id", None)
        run_id = str(run_id or context.get("run_id") or "?")
        dag_id = dag_id or (dag_run.get("dag_id", "?") if isinstance(dag_run, Mapping) else "?")
        headline = f"backfill: {dag_id} run {run_id} is late"
        lines = (f"still not finished {minutes} minutes after it was queued",)
        send(Alert(dag_id, run_id, run_url(dag_id, run_id), headline, lines), context)
    except Exception:
        log.exception("the late-run alert was not sent")
