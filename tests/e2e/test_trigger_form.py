"""The Airflow UI's trigger form in a real browser: Debian's chromium, headless, driven by Playwright.

No browser is downloaded: Playwright (Python) launches /usr/bin/chromium. The stack runs the simple
auth manager with all-admins on (local only), so the UI needs no login. The test opens the trigger
form of web_preagg_backfill, checks every DAG param is shown with its title/name, description and
default, enters values, triggers, and watches the run succeed in the UI. Screenshots land in
test-artifacts/ (git-ignored): trigger-form.png (the filled form) and trigger-run.png (the run page).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from urllib.parse import unquote

import pytest
from e2e_stack import ARTIFACTS, DEMO_START, E2EStack

from backfill.settings import WEB_PREAGG

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("BACKFILL_BROWSER_TESTS", "1") == "0",
        reason="BACKFILL_BROWSER_TESTS=0: chromium is not installed (make system-deps)",
    ),
]


def _field_row(dialog, name: str):
    """The form row (label, input, description) of param ``name``: inputs are named element_<param>."""
    element = dialog.locator(f"[name='element_{name}'], #element_{name}").first
    element.wait_for(state="attached")
    return element, element.evaluate_handle("e => e.closest('[data-scope=field][data-part=root]')")


def _shown_default(element, schema: dict) -> object:
    """What the form shows as the value of a field, in the param's own JSON type."""
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    tag = element.evaluate("e => e.tagName")
    if "boolean" in types:
        return element.is_checked()
    if "array" in types:
        if tag == "TEXTAREA":  # arrays of strings: one item per line
            text = element.input_value()
            return [line for line in text.splitlines() if line]
        from playwright.sync_api import expect

        expect(element).to_contain_text("[")  # the JSON editor renders its value after the form (load)
        return json.loads(element.inner_text().split("\n", 1)[-1])  # JSON editor: "<line no>\n<json>"
    value = element.input_value()
    if "integer" in types:
        return int(value)
    return value or None


def test_trigger_form_shows_every_param_and_runs_with_the_entered_values(e2e: E2EStack, browser):
    dag_id = WEB_PREAGG.dag_id
    e2e.require_dag(dag_id)
    params = e2e.airflow.api("GET", f"/api/v2/dags/{dag_id}/details")["params"]
    ARTIFACTS.mkdir(exist_ok=True)
    day = DEMO_START + dt.timedelta(days=10)
    with e2e.unpaused(dag_id) as af:
        # tall enough that the whole form (every param) is in the screenshot
        page = browser.new_page(viewport={"width": 1400, "height": 2300})
        try:
            page.goto(f"{af.base_url}/dags/{dag_id}")
            if "/login" in page.url:  # only when all-admins mode is off
                pytest.fail("the UI asks for a login: the e2e stack runs all-admins mode")
            page.get_by_role("button", name="Trigger Dag").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Run Parameters").wait_for()

            shown = {}
            for name, spec in params.items():
                element, row = _field_row(dialog, name)
                text = row.evaluate("r => r.innerText")
                label = spec["schema"].get("title") or name
                assert text.splitlines()[0] == label, (name, text)
                assert spec["description"] and spec["description"] in text, (name, text)
                shown[name] = _shown_default(element, spec["schema"])
            assert shown == {name: spec["value"] for name, spec in params.items()}

            dialog.locator("[name='element_end_date']").fill(day.isoformat())
            dialog.locator("[name='element_lookback_days']").fill("1")
            dialog.locator("[name='element_min_missing_partitions']").fill("0")
            page.screenshot(path=str(ARTIFACTS / "trigger-form.png"), full_page=True)
            dialog.get_by_test_id("trigger-dag-submit").click()

            page.wait_for_url(f"**/dags/{dag_id}/runs/**", timeout=30_000)
            run_id = unquote(page.url.split("/runs/", 1)[1].split("?")[0])
            final = af.wait_for_run(dag_id, run_id, timeout=300)
            page.reload()
            page.get_by_text(run_id).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "trigger-run.png"))
            failed = [
                (ti["task_id"], ti["map_index"])
                for ti in af.task_instances(dag_id, run_id)
                if ti["state"] != "success"
            ]
            assert final["state"] == "success", f"run {run_id} {final['state']}; not successful: {failed}"
            # the run page shows the run's state once it is final
            page.get_by_text("Success", exact=True).first.wait_for(timeout=30_000)
            # the recompute's asset events: both tables in the UI's Assets view
            page.goto(f"{af.base_url}/assets")
            for table in ("web_pre_aggregated_stats", "web_pre_aggregated_bounces"):
                page.get_by_text(table, exact=True).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "assets-view.png"), full_page=True)
        finally:
            page.close()
    assert final["conf"]["end_date"] == day.isoformat()
    assert final["conf"]["lookback_days"] == 1 and final["conf"]["min_missing_partitions"] == 0
    assert final["conf"]["max_partitions_per_run"] == params["max_partitions_per_run"]["value"]
    assert (ARTIFACTS / "trigger-form.png").stat().st_size > 10_000
