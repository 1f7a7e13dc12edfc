"""The deployment's knobs: read from the environment when the DAG file is parsed (no metadata DB), they
set the defaults the trigger form shows and the validation uses; a bad value names the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json
from backfill.web_preagg.params import dag_params, parse_params
form = dag_params()
run = parse_params({})
print(json.dumps([form["lookback_days"].value, form["max_partitions_per_run"].value,
                  run.lookback_days, run.max_partitions_per_run]))
"""


def _probe(**env_vars):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEB_ANALYTICS_BACKFILL_")}
    env.update(PYTHONPATH=str(ROOT / "plugins"), **env_vars)
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)


def test_environment_sets_the_form_defaults_and_the_validation():
    assert json.loads(_probe().stdout) == [30, 7, 30, 7]
    out = _probe(
        WEB_ANALYTICS_BACKFILL_LOOKBACK_DAYS="12", WEB_ANALYTICS_BACKFILL_MAX_PARTITIONS_PER_RUN="40"
    )
    assert json.loads(out.stdout) == [12, 40, 12, 40]


def test_a_bad_knob_fails_the_parse_naming_the_variable():
    out = _probe(WEB_ANALYTICS_BACKFILL_LOOKBACK_DAYS="thirty")
    assert out.returncode != 0
    assert "WEB_ANALYTICS_BACKFILL_LOOKBACK_DAYS='thirty' must be an integer between 1 and 365" in out.stderr
