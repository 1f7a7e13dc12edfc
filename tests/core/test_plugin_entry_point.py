"""The coverage page reaches Airflow through the installed package's ``airflow.plugins`` entry point.

No file of the package sits in a plugins folder, so Airflow's plugin loader (which imports every .py of
that folder as a top-level module) never sees ``sql.py``, ``settings.py`` or ``__main__.py``. These tests
run the real loader in a fresh interpreter, with an empty plugins folder, as the api-server does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
before = set(sys.modules)
from airflow import plugins_manager
plugins, errors = plugins_manager._get_plugins()
new = sorted(set(sys.modules) - before)
print(json.dumps({
    "errors": errors,
    "plugins": {p.name: type(p).__module__ for p in plugins},
    "apps": [a["url_prefix"] for p in plugins for a in p.fastapi_apps],
    "new": new,
}))
"""

PACKAGE_STEMS = {p.stem for p in (ROOT / "plugins" / "backfill").rglob("*.py")} - {"__init__"}


def _load(plugins_folder: Path, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_LOAD_PROVIDERS": "True",
    }
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_entry_point_registers_the_coverage_page(tmp_path):
    empty = tmp_path / "plugins"
    empty.mkdir()
    result = _load(empty, tmp_path)
    assert result["errors"] == {}
    assert result["plugins"] == {"backfill_coverage": "backfill.airflow_plugin"}
    assert result["apps"] == ["/backfill"]
    shadowed = PACKAGE_STEMS & set(result["new"])
    assert not shadowed, f"package files loaded as top-level modules: {shadowed}"
    # every task process loads the plugins: the page's app (FastAPI, the coverage code) waits for a request
    assert not {"fastapi", "backfill.coverage_app", "backfill.coverage"} & set(result["new"])


def test_the_package_in_a_plugins_folder_would_shadow_modules_and_run_the_cli(tmp_path):
    """The control, the reason for the entry point: the package copied into a plugins folder (the old
    install step) leaks `sql`, `settings`... as top-level modules, and the loader runs ``__main__.py``
    (the CLI prints its usage and the process exits)."""
    folder = tmp_path / "plugins"
    shutil.copytree(
        ROOT / "plugins" / "backfill", folder / "backfill", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "usage: backfill" in out.stderr
    (folder / "backfill" / "__main__.py").unlink()
    result = _load(folder, tmp_path)
    assert {"sql", "settings"} & set(result["new"]), result["new"]
