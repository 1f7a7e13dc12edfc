"""The gap report CLI: same detection code, connections from AIRFLOW_CONN_* env vars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wp_helpers import EXPECTED_MISSING, WINDOW_END, D

from backfill.__main__ import main as cli_main

ROOT = Path(__file__).resolve().parents[2]


def test_gap_report_in_process(world, connections, capsys):
    rc = cli_main(["gaps", "web-preagg", "--days-back", "14", "--end-date", WINDOW_END.isoformat()])
    out = capsys.readouterr().out
    assert rc == 1  # gaps exist
    grid = {
        line[:8].strip(): line[10:]
        for line in out.splitlines()
        if len(line) > 10 and line[:8].strip().isdigit()
    }
    assert set(grid) == {"1", "2", "3"}  # enabled teams only (team 4 is not)
    # window 2024-03-19..2024-04-01 (index 0..13): team 1 misses 03-31 in both tables ('.'), team 2
    # 03-28 in stats (only bounces present: 'b'), team 3 03-20 in bounces (only stats: 's')
    assert grid["1"] == "#" * 12 + ".#"
    assert grid["2"] == "#" * 9 + "b" + "#" * 4
    assert grid["3"] == "#s" + "#" * 12
    assert "MISSING team 1 day 2024-03-31" in out
    assert "MISSING team 1 day 2024-03-05" not in out  # outside the 14-day window


def test_gap_report_json_and_team_filter(world, connections, capsys):
    rc = cli_main(
        [
            "gaps",
            "web-preagg",
            "--days-back",
            "32",
            "--end-date",
            WINDOW_END.isoformat(),
            "--team-ids",
            "3,1",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert rc == 1
    got = {(m["team_id"], m["day"]) for m in data["missing"]}
    assert got == {(t, d.isoformat()) for t, d in EXPECTED_MISSING if t in (1, 3)}


def test_gap_report_refuses_bad_input(world, connections, capsys):
    assert cli_main(["gaps", "web-preagg", "--team-ids", "1,x;DROP"]) == 2
    assert "x;DROP" in capsys.readouterr().err
    assert cli_main(["gaps", "web-preagg", "--days-back", "0"]) == 2


def test_gap_report_as_a_command(world, connections):
    """``python -m backfill gaps web-preagg`` in its own process (BaseHook reads AIRFLOW_CONN_* outside a task)."""
    world.close()  # one process per chdb directory: hand it over to the command
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "backfill",
            "gaps",
            "web-preagg",
            "--days-back",
            "3",
            "--end-date",
            D(2024, 3, 22).isoformat(),
            "--tables",
            "bounces",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert "MISSING team 3 day 2024-03-20: missing in bounces" in out.stdout
