"""The embedded engine admits one process per directory: the seam waits for it, bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HOLD = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from backfill.clickhouse import ClickHouse
ch = ClickHouse.embedded(sys.argv[1])
from backfill import sql
ch.query(sql.Template("x", "SELECT 1"))
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
ch.close()
"""

USE = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from backfill.clickhouse import ClickHouse, EngineBusyError
from backfill import sql
ch = ClickHouse.embedded(sys.argv[1], lock_timeout_s=float(sys.argv[2]))
started = time.monotonic()
try:
    rows = ch.query(sql.Template("x", "SELECT 41 + 1 AS answer"))
    print("ok", rows[0]["answer"], round(time.monotonic() - started, 1), flush=True)
except EngineBusyError as exc:
    print("busy", str(exc), flush=True)
"""


def _start_holder(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds), str(ROOT / "plugins")],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def _use(path: Path, timeout: float) -> str:
    out = subprocess.run(
        [sys.executable, "-c", USE, str(path), str(timeout), str(ROOT / "plugins")],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    )
    return out.stdout.strip()


def test_a_second_process_waits_for_the_directory(tmp_path):
    holder = _start_holder(tmp_path / "chdb", 3)
    started = time.monotonic()
    result = _use(tmp_path / "chdb", timeout=60)
    holder.wait(30)
    assert result.startswith("ok 42"), result
    assert time.monotonic() - started >= 1.5, "it should have waited for the holder"


def test_waiting_is_bounded_with_a_clear_error(tmp_path):
    holder = _start_holder(tmp_path / "chdb", 8)
    try:
        result = _use(tmp_path / "chdb", timeout=1)
    finally:
        holder.kill()
        holder.wait(30)
    assert result.startswith("busy"), result
    assert "is held by another process" in result and "gave up after 1s" in result
