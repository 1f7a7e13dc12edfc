"""Named fault points: inert in production, armed from outside by the fault-injection tests.

A task calls ``fault_point("register:committed")`` at the moments where a crash matters. Tasks run in
their own processes (under a scheduler, one per try), so the tests arm points through the environment:
``BACKFILL_FAULT_POINTS='{"register:committed": {"action": "kill", "once_file": "/tmp/x"}}'``.
``kill`` is SIGKILL of the task process (a pod or worker dying); ``raise`` raises ``InjectedFault``;
``once_file`` makes the point fire only while that file does not exist (it is created when it fires),
so the retry or the next run goes through.
"""

from __future__ import annotations

import json
import os
import signal

ENV = "BACKFILL_FAULT_POINTS"


class InjectedFault(RuntimeError):
    """Raised at an armed fault point (action ``raise``); transient, like a dropped connection."""


def fault_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    point = json.loads(spec).get(name)
    if not point:
        return
    once = point.get("once_file")
    if once:
        try:
            fd = os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
    if point.get("action") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedFault(f"injected fault at {name}: connection reset")
