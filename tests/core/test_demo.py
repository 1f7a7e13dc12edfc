"""make demo's own steps (devtools), on small data: seeding, the daily job with its gaps, the demo
ducklings, and the gap summary the demo prints. The DAG runs themselves are covered by the DAG tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = r"""
import datetime as dt, json, sys
from pathlib import Path
from devtools import demo, localstack
from devtools.demo_data import DemoSpec
from backfill.clickhouse import ClickHouse

root, port = Path(sys.argv[1]), int(sys.argv[2])
stores = demo.DemoStores(root, localstack.S3Server(process=None, port=port))
yesterday = dt.date(2024, 3, 10)
spec = DemoSpec(team_ids=(1, 2, 3), start_day=dt.date(2024, 2, 15), days=25, sessions_per_day=20, persons_per_team=10)
demo._prepare(stores, spec, yesterday)
print(json.dumps(demo._web_gaps(stores, spec, yesterday), default=str))
"""


def test_demo_prepares_its_stores_and_sees_its_gaps(s3, tmp_path, connections):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    env.update({k: v for k, v in connections.items()})
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(tmp_path), str(s3.port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    gaps = json.loads(out.stdout.strip().splitlines()[-1])
    # the daily job left out 4 team-days of both tables and 1 of bounces (demo._gap_days, 3 teams)
    assert gaps["missing_team_days"] == 5 and gaps["missing_partitions"] == {"stats": 4, "bounces": 5}
    assert (tmp_path / "lakes" / "team_1").is_dir() and (tmp_path / "lakes" / "team_2").is_dir()
    assert not (tmp_path / "lakes" / "team_3").exists()
