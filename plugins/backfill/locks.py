"""The one file-lock helper: an exclusive ``flock`` on a path, taken with a bounded wait, and a probe
of whether another process holds one (the embedded ClickHouse directory, a local DuckLake catalog)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def file_lock(
    path: str, timeout_s: float, poll_s: float, busy: Callable[[float], Exception]
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing); waits up to ``timeout_s``, then raises
    ``busy(timeout_s)``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy(timeout_s) from None
                time.sleep(poll_s)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def is_locked(path: str) -> bool:
    """True if another process holds an exclusive lock on ``path`` (False when it does not exist)."""
    if not os.path.exists(path):
        return False
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
