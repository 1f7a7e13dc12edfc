"""The coverage page and its JSON behind Airflow's own authentication: the real api-server app (its
plugin loading, its auth manager with all-admins OFF), requests through FastAPI's test client.

Anonymous -> 401, a forged token -> 403, a user without a role -> 403, a viewer -> the page and the JSON,
which equal the grid computed from the same app DB rows."""

from __future__ import annotations

import datetime as dt

import pytest

from backfill.coverage import CoverageStore, Observation, grid
from backfill.ledger import Ledger, PartitionKey

D = dt.date(2024, 3, 1)


@pytest.fixture
def api(airflow_db, connections, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "viewer:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(tmp_path / "passwords.json"))
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app("core"))

    def token(role: str | None) -> str:
        return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"u-{role}", role=role))

    return client, token


def _seed(appdb) -> None:
    """Two teams, four days: the ledger rows of one run, then a later detection's observations."""
    ledger = Ledger(appdb)
    owner = "duckling_backfill:manual__one"
    for day, source in ((D, 100), (D + dt.timedelta(days=1), 90)):  # day 2: the source changed since
        key = PartitionKey("duckling", 1, day, "events")
        assert ledger.claim(key, owner, 60)
        ledger.succeed(key, owner, source_count=source, target_count=source,
                       detail={"clickhouse": {"rows_read": 500, "rows_written": source, "queries": 1}})  # fmt: skip
    key = PartitionKey("duckling", 2, D, "events")
    assert ledger.claim(key, owner, 60)
    ledger.fail(key, owner, "bucket <b>gone</b>")
    upkeep_key = PartitionKey("duckling_maintenance", 1, D, "upkeep")
    assert ledger.claim(upkeep_key, "duckling_maintenance:m", 60)
    ledger.succeed(upkeep_key, "duckling_maintenance:m",
                   detail={"merged_files": 2, "after": {"data_files": 3, "data_bytes": 900, "snapshots": 4}})  # fmt: skip
    CoverageStore(appdb).record(
        "duckling",
        [Observation(1, D + dt.timedelta(days=i), 100 + i) for i in range(4)]
        + [Observation(2, D + dt.timedelta(days=i), 0 if i == 3 else 50) for i in range(4)],
        dag_id="duckling_backfill",
        run_id="scheduled__2024-03-05",
    )


def test_routes_require_an_authenticated_user_with_dag_read_access(api, appdb):
    client, token = api
    _seed(appdb)
    url = f"/backfill/api/coverage?family=duckling&start={D}&end={D + dt.timedelta(days=3)}"
    assert client.get(url).status_code == 401
    assert client.get("/backfill/coverage").status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    assert client.get(url, headers={"Authorization": f"Bearer {token(None)}"}).status_code == 403

    viewer = {"Authorization": f"Bearer {token('viewer')}"}
    got = client.get(url, headers=viewer)
    assert got.status_code == 200
    expected = grid(appdb, "duckling", D, D + dt.timedelta(days=3)).to_dict()
    assert {k: v for k, v in got.json().items() if k != "upkeep"} == expected
    states = {(c["team_id"], c["day"]): c["state"] for c in got.json()["cells"]}
    assert states == {
        (1, "2024-03-01"): "done",
        (1, "2024-03-02"): "stale",  # registered 90 rows, the detection saw 101
        (1, "2024-03-03"): "missing",
        (1, "2024-03-04"): "missing",
        (2, "2024-03-01"): "failed",
        (2, "2024-03-02"): "missing",
        (2, "2024-03-03"): "missing",
        (2, "2024-03-04"): "no_traffic",
    }
    assert got.json()["clickhouse"]["rows_read"] == 1000  # the two registered partitions' cost
    assert got.json()["upkeep"] == [
        {"team_id": 1, "last_upkeep": got.json()["upkeep"][0]["last_upkeep"], "data_files": 3, "data_bytes": 900,
         "snapshots": 4, "last_compaction": got.json()["upkeep"][0]["last_upkeep"]}
    ]  # fmt: skip

    # the same through the UI's cookie, as the browser sends it; the error is escaped in the page
    page = client.get(f"/backfill/coverage?family=duckling&start={D}&end={D + dt.timedelta(days=3)}",
                      cookies={"_token": token("viewer")})  # fmt: skip
    assert page.status_code == 200
    assert page.text.count('class="c"') == 8
    assert 'data-team="2" data-day="2024-03-01" data-state="failed"' in page.text
    assert "bucket &lt;b&gt;gone&lt;/b&gt;" in page.text and "<b>gone</b>" not in page.text
    assert 'href="/dags/duckling_backfill/runs/manual__one"' in page.text
    assert 'id="upkeep"' in page.text

    # bad filters: a clear 400, nothing formatted into SQL
    for bad in ("family=events", "teams=1;DROP", "start=2024-13-01", f"start={D}&end=2023-01-01"):
        assert client.get(f"/backfill/api/coverage?{bad}", headers=viewer).status_code == 400, bad


def test_the_page_refuses_grids_over_its_limits_naming_them(api, appdb, monkeypatch):
    """Teams and window are bounded, and so is the default team set (every team the rows know): a 400
    naming the limit, before any cell is built."""
    import backfill.coverage_app as app_module
    from backfill.coverage_view import MAX_DAYS, MAX_TEAMS
    from backfill.settings import OBSERVABILITY

    client, token = api
    viewer = {"Authorization": f"Bearer {token('viewer')}"}
    too_many = ",".join(str(t) for t in range(1, MAX_TEAMS + 2))
    got = client.get(f"/backfill/api/coverage?family=duckling&teams={too_many}", headers=viewer)
    assert got.status_code == 400 and f"at most {MAX_TEAMS}" in got.json()["detail"]
    long = f"start={D - dt.timedelta(days=MAX_DAYS)}&end={D}"
    got = client.get(f"/backfill/api/coverage?family=duckling&{long}", headers=viewer)
    assert got.status_code == 400 and str(MAX_DAYS) in got.json()["detail"]

    # the default team set: 3 teams known to the ledger x 4 days = 12 cells, over a limit of 10
    ledger = Ledger(appdb)
    for team in (1, 2, 3):
        assert ledger.claim(PartitionKey("duckling", team, D, "events"), "o", 60)
    window = f"start={D}&end={D + dt.timedelta(days=3)}"
    limited = type(OBSERVABILITY)(**{**OBSERVABILITY.__dict__, "coverage_max_cells": 10})
    monkeypatch.setattr(app_module, "OBSERVABILITY", limited)
    got = client.get(f"/backfill/api/coverage?family=duckling&{window}", headers=viewer)
    assert got.status_code == 400, got.text
    assert "12 cells, over the limit of 10" in got.json()["detail"]
    monkeypatch.setattr(app_module, "OBSERVABILITY", OBSERVABILITY)
    assert client.get(f"/backfill/api/coverage?family=duckling&{window}", headers=viewer).status_code == 200


def test_png_from_the_command_line_draws_the_same_states(appdb, connections, tmp_path):
    """``python -m backfill coverage --png``: a real PNG whose cells have the states' colours."""
    import subprocess
    import sys

    from PIL import Image

    from backfill.coverage_view import COLOURS
    from backfill.settings import PROJECT_ROOT

    _seed(appdb)
    out = tmp_path / "coverage.png"
    args = [
        "--family",
        "duckling",
        "--start",
        str(D),
        "--end",
        str(D + dt.timedelta(days=3)),
        "--png",
        str(out),
    ]
    env = {**__import__("os").environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    done = subprocess.run([sys.executable, "-m", "backfill", "coverage", *args], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    pixels = Image.open(out).convert("RGB").getcolors(maxcolors=1 << 20)
    area = {colour: n for n, colour in pixels}

    def drawn(state: str) -> int:
        return area.get(tuple(int(COLOURS[state][i : i + 2], 16) for i in (1, 3, 5)), 0)

    legend_only = drawn("in_progress")  # no cell is in progress: its colour is only the legend's patch
    assert legend_only > 0
    # the seeded states fill cells (missing: 4 cells, the others 1 each), far more than a legend patch
    for state, cells in (("done", 1), ("stale", 1), ("failed", 1), ("no_traffic", 1), ("missing", 4)):
        assert drawn(state) > 3 * cells * legend_only, (state, drawn(state), legend_only)

    bad = subprocess.run([sys.executable, "-m", "backfill", "coverage", "--teams", "1;DROP"], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "1;DROP" in bad.stderr
