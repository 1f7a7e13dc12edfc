"""Airflow's plugin loader imports every .py under plugins/ as a top-level module unless ignored.

plugins/.airflowignore hides the package; these tests run the real loader in a fresh interpreter and
prove it neither errors nor registers any of the package's module names (``sql``, ``settings``...).
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
plugins_manager.ensure_plugins_loaded()
new = sorted(set(sys.modules) - before)
print(json.dumps({"errors": plugins_manager.get_import_errors(), "new": new}))
"""

PACKAGE_STEMS = {p.stem for p in (ROOT / "plugins" / "backfill").rglob("*.py")}


def _load(plugins_folder: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_LOAD_PROVIDERS": "True",
    }
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)


def _result(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loader_ignores_the_package(tmp_path):
    result = _result(_load(ROOT / "plugins", tmp_path))
    assert result["errors"] == {}
    shadowed = PACKAGE_STEMS & set(result["new"])
    assert not shadowed, f"plugin loader registered package files as top-level modules: {shadowed}"


def _copy_without_ignore(tmp_path: Path) -> Path:
    copy = tmp_path / "plugins"
    shutil.copytree(ROOT / "plugins", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / ".airflowignore").unlink()
    return copy


def test_without_the_ignore_file_the_loader_would_shadow_modules(tmp_path):
    """The control: the same folder without .airflowignore leaks `sql`, `settings`, ... into sys.modules."""
    copy = _copy_without_ignore(tmp_path)
    (copy / "backfill" / "__main__.py").unlink()  # see the next test
    result = _result(_load(copy, tmp_path))
    assert {"sql", "settings"} & set(result["new"]), result["new"]


def test_without_the_ignore_file_the_loader_would_run_the_cli(tmp_path):
    """...and would execute plugins/backfill/__main__.py as module ``__main__``: the CLI runs and exits."""
    out = _load(_copy_without_ignore(tmp_path), tmp_path)
    assert out.returncode != 0
    assert "usage: python -m backfill" in out.stderr
