"""A StatsD receiver on loopback for the tests: every datagram, parsed, kept in arrival order."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    kind: str  # c (counter) | g (gauge) | ms (timer)
    tags: dict[str, str]


def parse(line: str) -> Metric | None:
    """``name:value|type[|@rate][|#tag:v,...]`` (DogStatsD tags) or InfluxDB ``name,tag=v:value|type``."""
    try:
        head, *parts = line.split("|")
        name, value = head.rsplit(":", 1)
        tags = {}
        if "," in name:  # InfluxDB style tags in the name
            name, *pairs = name.split(",")
            tags.update(p.split("=", 1) for p in pairs if "=" in p)
        for part in parts[1:]:
            if part.startswith("#"):
                tags.update(t.split(":", 1) for t in part[1:].split(",") if ":" in t)
        return Metric(name, float(value), parts[0], tags)
    except (ValueError, IndexError):
        return None


@dataclass
class StatsdSink:
    host: str = "127.0.0.1"
    metrics: list[Metric] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.host, 0))
        self.port = self.sock.getsockname()[1]
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data = self.sock.recv(65535)
            except OSError:
                return
            parsed = [parse(line) for line in data.decode("utf-8", "replace").splitlines() if line]
            with self._lock:
                self.metrics.extend(m for m in parsed if m is not None)

    def mark(self) -> int:
        with self._lock:
            return len(self.metrics)

    def since(self, mark: int = 0) -> list[Metric]:
        with self._lock:
            return list(self.metrics[mark:])

    def total(self, name: str, mark: int = 0) -> float:
        """The sum of a counter's increments since ``mark``."""
        return sum(m.value for m in self.since(mark) if m.name == name and m.kind == "c")

    def last(self, name: str, mark: int = 0, **tags: str) -> float | None:
        """The last value of a gauge since ``mark`` (with these tags, if given)."""
        found = [
            m.value
            for m in self.since(mark)
            if m.name == name and m.kind == "g" and all(m.tags.get(k) == v for k, v in tags.items())
        ]
        return found[-1] if found else None

    def close(self) -> None:
        self.sock.close()
