"""Named fault points: inert in production, armed from outside by the fault-injection tests.

A task calls ``fault_point("register:committed")`` at the moments where a crash matters. Tasks run in
their own processes (under a scheduler, one per try), so the tests arm points through the environment:
``BACKFILL_FAULT_POINTS='{"register:committed": {"action": "kill", "once_file": "/tmp/x"}}'``.
``kill`` is SIGKILL of the task process (a pod or worker dying); ``crash`` raises ``SimulatedCrash``, a
BaseException no handler records (the state a kill leaves, for tests in one process); ``raise`` raises
``InjectedFault``; ``BACKFILL_FAULT_POINTS_FILE`` names a JSON file of the same form, read at each point;
``once_file`` makes the point fire only while that file does not exist (it is created when it fires),
so the retry or the next run goes through; ``probability`` makes it fire on that share of its hits.
"""

from __future__ import annotations

import json
import os
import random
import signal

ENV = "BACKFILL_FAULT_POINTS"


class InjectedFault(RuntimeError):
    """Raised at an armed fault point (action ``raise``); transient, like a dropped connection."""


class SimulatedCrash(BaseException):  # noqa: N818 - it is not an error a handler should see
    """Raised at an armed fault point (action ``crash``): the process "dies" here, nothing is recorded."""


def _armed() -> dict:
    spec = os.environ.get(ENV)
    path = os.environ.get(ENV + "_FILE")
    if not spec and path and os.path.exists(path):
        with open(path) as f:
            spec = f.read()
    return json.loads(spec) if spec else {}


def fault_point(name: str) -> None:
    point = _armed().get(name)
    if not point:
        return
    if "probability" in point and random.random() >= float(point["probability"]):
        return  # a point that fires at random, again and again (the fault suite's soak)
    once = point.get("once_file")
    if once:
        try:
            fd = os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
    if point.get("action") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if point.get("action") == "crash":
        raise SimulatedCrash(f"simulated crash at {name}")
    raise InjectedFault(f"injected fault at {name}: connection reset")
