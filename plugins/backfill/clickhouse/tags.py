"""What every ClickHouse statement carries and reports: who runs it (``QueryTag``: the ``log_comment``
and the ``query_id`` prefix) and what it cost (``QueryStats``, summed by a ``Meter``)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

COMMENT_SAFE = re.compile(r"[^A-Za-z0-9_ .:=/@+,-]")


@dataclass(frozen=True)
class QueryTag:
    """Who runs a query: becomes the ``log_comment`` and the prefix of the ``query_id``."""

    dag_id: str = "cli"
    team_id: int | None = None
    day: Any = None
    what: str = ""

    def comment(self) -> str:
        parts = [f"dag={self.dag_id}"]
        if self.team_id is not None:
            parts.append(f"team={int(self.team_id)}")
        if self.day is not None:
            parts.append(f"day={self.day}")
        if self.what:
            parts.append(self.what)
        return COMMENT_SAFE.sub("_", " ".join(parts))[:500]

    def new_query_id(self) -> str:
        prefix = COMMENT_SAFE.sub("_", self.dag_id).replace(" ", "_")[:60]
        return f"{prefix}-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class QueryStats:
    """What the engine reports about one statement: rows and bytes it read from storage and wrote, and
    its duration. Embedded: chdb's result counters (``rows_read`` there describes the result, so the
    storage counters are used); server: clickhouse-driver's progress of the query."""

    rows_read: int = 0
    bytes_read: int = 0
    rows_written: int = 0
    bytes_written: int = 0
    elapsed_s: float = 0.0
    queries: int = 1
    peak_memory_bytes: int | None = None  # server only, from system.query_log when it has the query

    def __add__(self, other: QueryStats) -> QueryStats:
        peaks = [p for p in (self.peak_memory_bytes, other.peak_memory_bytes) if p is not None]
        return QueryStats(
            self.rows_read + other.rows_read,
            self.bytes_read + other.bytes_read,
            self.rows_written + other.rows_written,
            self.bytes_written + other.bytes_written,
            round(self.elapsed_s + other.elapsed_s, 6),
            self.queries + other.queries,
            max(peaks) if peaks else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "bytes_read": self.bytes_read,
            "rows_written": self.rows_written,
            "bytes_written": self.bytes_written,
            "elapsed_s": round(self.elapsed_s, 6),
            "queries": self.queries,
            "peak_memory_bytes": self.peak_memory_bytes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> QueryStats:
        d = d or {}
        return cls(
            int(d.get("rows_read", 0)),
            int(d.get("bytes_read", 0)),
            int(d.get("rows_written", 0)),
            int(d.get("bytes_written", 0)),
            float(d.get("elapsed_s", 0.0)),
            int(d.get("queries", 0)),
            d.get("peak_memory_bytes"),
        )


NO_QUERIES = QueryStats(queries=0)


@dataclass
class Meter:
    """The ClickHouse cost of a block of work: every statement's statistics, summed."""

    stats: QueryStats = NO_QUERIES
    query_ids: list[str] = field(default_factory=list)

    def add(self, stats: QueryStats, query_id: str) -> None:
        self.stats = self.stats + stats
        self.query_ids.append(query_id)


@dataclass(frozen=True)
class QueryResult:
    """A statement's result as the engine's column names and row tuples (``rows`` builds dicts on
    first use: a caller reading many rows by position skips that) and its statistics."""

    columns: list[str]
    tuples: list[tuple]
    stats: QueryStats

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, t, strict=True)) for t in self.tuples]
