"""Process trees from /proc (Linux): what a component started, identified by pid AND start time, so a
pid the kernel reuses later is never mistaken for (or killed as) one of ours."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1], start time [19])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(root: int) -> dict[int, str]:
    """Every process below ``root``: pid -> its start time (clock ticks since boot)."""
    parents, started = {}, {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and (fields := _stat(int(proc.name))):
            parents[int(proc.name)] = int(fields[1])
            started[int(proc.name)] = fields[19]
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return {pid: started[pid] for pid in found}


def alive(pids: dict[int, str]) -> dict[int, str]:
    """Those still running (same pid and start time, not a zombie): pid -> command line."""
    out = {}
    for pid, start in pids.items():
        fields = _stat(pid)
        if fields and fields[19] == start and fields[0] != "Z":
            try:
                out[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
            except OSError:
                continue
    return out


def kill(pids: dict[int, str], sig: int = signal.SIGKILL) -> None:
    """Signal those still running; a process that left its group (a task runner) is reached too."""
    for pid in alive(pids):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
