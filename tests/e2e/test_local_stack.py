"""``make airflow`` as a newcomer meets it: the launcher seeds the demo world (recent traffic,
pre-aggregations with gaps, two empty demo ducklings), starts PostgreSQL, S3 and Airflow, unpauses the
DAGs, and the first scheduled runs do real work. SIGTERM (not only Ctrl-C) stops every process it
started, PostgreSQL included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backfill.settings import PROJECT_ROOT
from devtools import localstack
from devtools.proctree import alive, descendants

pytestmark = pytest.mark.scheduler


def _processes_mentioning(text: str) -> list[str]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                out.append(f"{proc.name}: {cmdline[:200]}")
    return out


def test_local_stack_seeds_real_work_and_stops_on_sigterm(tmp_path):
    base = tmp_path / "airflow-local"
    port = localstack.free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_HOME"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])
    log = (tmp_path / "launcher.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools", "airflow", "--dir", str(base), "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 420
        while "stops everything" not in Path(log.name).read_text():
            assert proc.poll() is None, Path(log.name).read_text()[-4000:]
            assert time.monotonic() < deadline, Path(log.name).read_text()[-4000:]
            time.sleep(2)
        text = Path(log.name).read_text()
        assert "seeded demo data" in text and "demo ducklings (empty) for teams [1, 2]" in text
        for dag_id in (
            "web_preagg_backfill",
            "duckling_backfill",
            "duckling_full_backfill",
            "duckling_maintenance",
            "backfill_freshness",
        ):
            assert f"unpaused {dag_id}" in text, text[-3000:]
        assert _processes_mentioning(str(base)), "nothing runs from the stack's directory"

        # the first scheduled runs find real work: the web_preagg run for yesterday fills gaps
        from backfill.appdb import AppDB
        from backfill.ledger import Ledger

        pg_port = _pg_port(base)
        db = AppDB.from_url(f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/posthog")
        try:
            deadline = time.monotonic() + 300
            while not Ledger(db).rows("web_preagg", status="done"):
                assert proc.poll() is None, Path(log.name).read_text()[-4000:]
                assert time.monotonic() < deadline, (
                    "no web_preagg team-day was recomputed by the scheduled run"
                )
                time.sleep(3)
        finally:
            db.engine.dispose()
        started = descendants(proc.pid)  # api-server, scheduler, dag-processor, moto, their workers
        assert len(started) >= 4, started
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 30
    while _processes_mentioning(str(base)) and time.monotonic() < deadline:
        time.sleep(1)
    assert _processes_mentioning(str(base)) == [], "processes left after SIGTERM (PostgreSQL?)"
    deadline = time.monotonic() + 30
    while alive(started) and time.monotonic() < deadline:
        time.sleep(1)
    assert alive(started) == {}, "processes the launcher started are still running"
    assert proc.returncode == 0, Path(log.name).read_text()[-3000:]


def _pg_port(base: Path) -> int:
    """The launcher's PostgreSQL port, from its postmaster.pid (line 4)."""
    return int((base / "pg" / "pgdata" / "postmaster.pid").read_text().splitlines()[3])
