"""``[core] hostname_callable`` for the local Celery stack: each worker (and its task processes) reports
the name it was started with, so two workers on one machine are told apart in task instances."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("BACKFILL_WORKER_NAME") or socket.getfqdn()
