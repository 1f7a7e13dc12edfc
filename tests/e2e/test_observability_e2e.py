"""Observability under the real scheduler and in the real UI: the package's StatsD metrics reach a
receiver on loopback from the task processes (checked against the ledger), and the coverage page is
in the Airflow UI's navigation, authenticated by the UI's own session, showing the app DB's states."""

from __future__ import annotations

import datetime as dt

import pytest
from e2e_stack import ARTIFACTS, DEMO_START, DUCKLING_TEAM, E2EStack

from backfill.appdb import AppDB
from backfill.coverage import grid
from backfill.ledger import Ledger
from backfill.settings import DUCKLING

DAY = DEMO_START + dt.timedelta(days=7)  # a day test_scheduler_e2e's backfill also writes


def _wait_for_metric(e2e: E2EStack, name: str, mark: int, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not e2e.statsd.total(name, mark):
        time.sleep(0.2)


@pytest.mark.scheduler
def test_task_processes_send_the_package_metrics(e2e: E2EStack):
    dag_id = DUCKLING.daily_dag_id
    e2e.require_dag(dag_id)
    conf = {"team_ids": [DUCKLING_TEAM], "kinds": ["events"], "start_date": DAY.isoformat(),
            "end_date": DAY.isoformat()}  # fmt: skip
    with e2e.unpaused(dag_id) as af:
        mark = e2e.statsd.mark()  # after the scheduled run that unpausing creates has finished
        run = af.trigger(dag_id, conf)
        final = af.wait_for_run(dag_id, run["dag_run_id"], timeout=300)
    assert final["state"] == "success", final
    owner = f"{dag_id}:{run['dag_run_id']}"
    db = AppDB.from_url(e2e.app_db_url)
    try:
        mine = [r for r in Ledger(db).rows("duckling", status="done") if r["claim_owner"] == owner]
    finally:
        db.engine.dispose()
    assert len(mine) == 1 and mine[0]["source_count"] > 0
    _wait_for_metric(e2e, "airflow.backfill.duckling.rows_registered", mark)
    sink = e2e.statsd
    assert sink.total("airflow.backfill.duckling.partitions.done", mark) == len(mine)
    assert sink.total("airflow.backfill.duckling.partitions.failed", mark) == 0
    assert sink.total("airflow.backfill.duckling.rows_exported", mark) == mine[0]["source_count"]
    assert sink.total("airflow.backfill.duckling.rows_registered", mark) == mine[0]["target_count"]
    # Airflow's own metrics go through the same configuration
    assert any(
        m.name.startswith("airflow.ti.") or m.name.startswith("airflow.scheduler") for m in sink.since(mark)
    )


@pytest.mark.browser
def test_coverage_page_in_the_airflow_ui(e2e: E2EStack, browser):
    start, end = DEMO_START, DEMO_START + dt.timedelta(days=11)
    db = AppDB.from_url(e2e.app_db_url)
    try:
        expected = {(c.team_id, c.day.isoformat()): c.state for c in grid(db, "duckling", start, end).cells}
    finally:
        db.engine.dispose()
    assert "done" in expected.values(), "an earlier e2e test registers duckling days"
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        base = e2e.airflow.base_url
        page.goto(f"{base}/")  # the UI signs the browser in (all-admins mode) and keeps its token cookie
        page.get_by_role("button", name="Browse").first.click()
        page.get_by_role("menuitem", name="Backfill coverage").click()
        page.wait_for_url("**/plugin/backfill-coverage", timeout=30_000)
        frame = page.frame_locator("iframe").first
        frame.locator("#heatmap").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "coverage-nav.png"))

        page.goto(f"{base}/backfill/coverage?family=duckling&start={start}&end={end}")
        page.locator("#heatmap").wait_for(timeout=30_000)
        shown = {
            (int(c.get_attribute("data-team")), c.get_attribute("data-day")): c.get_attribute("data-state")
            for c in page.locator("td.c").all()
        }
        assert shown == expected
        page.screenshot(path=str(ARTIFACTS / "coverage-page.png"), full_page=True)
    finally:
        page.close()
    assert (ARTIFACTS / "coverage-page.png").stat().st_size > 10_000
