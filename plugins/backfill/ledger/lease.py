"""A claim's lease kept alive from a thread while a long step runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from backfill.ledger.states import ClaimLost

log = logging.getLogger(__name__)


class Heartbeat:
    """Calls ``renew`` every ``every_s`` seconds on a daemon thread until stopped or the claim is lost."""

    def __init__(self, renew: Callable[[], None], every_s: float):
        self._renew, self._every = renew, every_s
        self._stop = threading.Event()
        self.beat = threading.Event()  # set after each renewal (tests wait on it)
        self.beats, self.lost = 0, False
        self._thread = threading.Thread(target=self._run, name="ledger-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except ClaimLost:
                self.lost = True
                return
            except Exception as exc:  # noqa: BLE001 (a failed renewal is retried on the next beat)
                log.warning("lease renewal failed: %s", exc)
                continue
            self.beats += 1
            self.beat.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
