"""The one ClickHouse seam: run a named SQL template with typed server-side parameters.

The Airflow connection ``clickhouse_default`` chooses the engine by its type:

* ``clickhouse`` (or anything else): a ClickHouse server over the native protocol, through
  airflow-clickhouse-plugin's connection mapping and clickhouse-driver with ``server_side_params``.
* ``chdb``: the embedded engine, data in the directory named by the extra ``path`` (or the host part).
  One process may hold a chdb directory at a time, so opening it waits (bounded) for the holder.

Both run the same SQL text. Each query carries a ``query_id`` and a ``log_comment``; if the task is
interrupted (``execution_timeout``, SIGTERM) while a server query runs, the seam kills it by id.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from backfill import sql as sqlt
from backfill.settings import CLICKHOUSE, CONNECTIONS

log = logging.getLogger(__name__)

_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_COMMENT_SAFE = re.compile(r"[^A-Za-z0-9_ .:=/@+,-]")
_STALE_ARROW = re.compile(r"Unexpected empty message in IPC file format|Invalid flatbuffers message")


class EngineBusyError(RuntimeError):
    """The embedded engine's directory stayed locked by another process past the timeout."""


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
        return _COMMENT_SAFE.sub("_", " ".join(parts))[:500]

    def new_query_id(self) -> str:
        prefix = _COMMENT_SAFE.sub("_", self.dag_id).replace(" ", "_")[:60]
        return f"{prefix}-{uuid.uuid4().hex}"


def _settings_clause(settings: dict[str, Any]) -> str:
    """Render validated settings for the embedded engine, which has no out-of-band settings channel."""
    rendered = []
    for key, value in settings.items():
        if not _SETTING_NAME.match(key):
            raise ValueError(f"invalid ClickHouse setting name {key!r}")
        if isinstance(value, bool):
            rendered.append(f"{key}={int(value)}")
        elif isinstance(value, int | float):
            rendered.append(f"{key}={value}")
        elif isinstance(value, str):
            safe = _COMMENT_SAFE.sub("_", value)
            rendered.append(f"{key}='{safe}'")
        else:
            raise ValueError(f"ClickHouse setting {key} has unsupported value {value!r}")
    return " SETTINGS " + ", ".join(rendered) if rendered else ""


def _first_keyword(sql: str) -> str:
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            return stripped.split()[0].upper()
    return ""


def _directory_locked(path: str) -> bool:
    """True if another process holds the chdb directory (ClickHouse flocks ``<path>/status``)."""
    status = os.path.join(path, "status")
    if not os.path.exists(status):
        return False
    with open(status, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def with_settings(text: str, settings: dict[str, Any]) -> str:
    """The statement with its query settings appended, for the embedded engine (no settings channel).

    Applies to statements that take a trailing SETTINGS clause (SELECT, INSERT, WITH, DELETE); a
    template's own SETTINGS clause is extended. DDL is left alone (there SETTINGS means table settings).
    Templates insert with INSERT ... SELECT: after VALUES the engine would read SETTINGS as data.
    """
    body = text.rstrip().rstrip(";")
    if _first_keyword(body) not in ("SELECT", "INSERT", "WITH", "DELETE"):
        return body
    clause = _settings_clause(settings)
    if clause and re.search(r"^\s*SETTINGS\b", body, re.MULTILINE | re.IGNORECASE):
        clause = clause.replace(" SETTINGS ", ", ", 1)
    return body + clause


class _EmbeddedSessions:
    """chdb allows one open path per process: keep it open, switch only when asked for another path."""

    lock = threading.RLock()
    path: str | None = None
    session: Any = None

    @classmethod
    def get(cls, path: str, timeout_s: float):
        with cls.lock:
            if cls.path == path and cls.session is not None:
                return cls.session
            cls.close()
            from chdb import session as chdb_session

            deadline = time.monotonic() + timeout_s
            while True:
                # Probe the lock first: a failed chdb start is slow and prints an error to stderr.
                if not _directory_locked(path):
                    try:
                        cls.session = chdb_session.Session(path)
                        cls.path = path
                        return cls.session
                    except Exception:  # chdb reports the lock only as a failed server start
                        if not _directory_locked(path):
                            raise
                if time.monotonic() >= deadline:
                    raise EngineBusyError(
                        f"embedded ClickHouse directory {path} is held by another process; "
                        f"gave up after {timeout_s:.0f}s"
                    )
                time.sleep(CLICKHOUSE.embedded_lock_poll_s)

    @classmethod
    def close(cls) -> None:
        with cls.lock:
            if cls.session is not None:
                try:
                    cls.session.close()
                finally:
                    cls.session = None
                    cls.path = None


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


@dataclass
class ClickHouse:
    """Executes named templates. Build it with ``ClickHouse.from_connection``."""

    engine: str  # "chdb" | "server"
    path: str | None = None
    client_kwargs: dict[str, Any] = field(default_factory=dict)
    lock_timeout_s: float = CLICKHOUSE.embedded_lock_timeout_s
    _meters: list[Meter] = field(default_factory=list, repr=False, compare=False)

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def embedded(cls, path: str, lock_timeout_s: float | None = None) -> ClickHouse:
        return cls(
            "chdb", path=str(path), lock_timeout_s=lock_timeout_s or CLICKHOUSE.embedded_lock_timeout_s
        )

    @classmethod
    def from_connection(cls, conn: Any) -> ClickHouse:
        extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
        if (conn.conn_type or "").lower() == "chdb":
            path = extra.get("path") or conn.host
            if not path:
                raise ValueError("chdb connection needs the data directory in extra 'path'")
            return cls.embedded(path, float(extra.get("lock_timeout_s", CLICKHOUSE.embedded_lock_timeout_s)))
        from airflow_clickhouse_plugin.hooks.clickhouse import conn_to_kwargs

        kwargs = conn_to_kwargs(conn, None)
        kwargs["settings"] = {**kwargs.get("settings", {}), "server_side_params": True}
        return cls("server", client_kwargs=kwargs)

    @classmethod
    def from_conn_id(cls, conn_id: str = CONNECTIONS.clickhouse) -> ClickHouse:
        from airflow.sdk import BaseHook

        return cls.from_connection(BaseHook.get_connection(conn_id))

    # --- execution ----------------------------------------------------------------------------
    def query(
        self,
        template: str | sqlt.Template,
        params: dict[str, Any] | None = None,
        *,
        tag: QueryTag | None = None,
        settings: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Run one statement; return its rows as dicts of Python values (empty for writes)."""
        return self.execute(template, params, tag=tag, settings=settings).rows

    def execute(
        self,
        template: str | sqlt.Template,
        params: dict[str, Any] | None = None,
        *,
        tag: QueryTag | None = None,
        settings: dict[str, Any] | None = None,
    ) -> QueryResult:
        """Run one statement; return its rows and the engine's statistics (rows written by an INSERT,
        rows and bytes read from storage, duration)."""
        tpl = sqlt.load(template) if isinstance(template, str) else template
        text_params = sqlt.check_params(tpl, params)  # refuses bad values before anything runs
        tag = tag or QueryTag()
        all_settings = {**(settings or {}), "log_comment": tag.comment()}
        query_id = tag.new_query_id()
        started = time.monotonic()
        try:
            if self.engine == "chdb":
                result = self._run_embedded(tpl.text, text_params, all_settings)
            else:
                result = self._run_server(tpl.text, params or {}, all_settings, query_id)
        finally:
            log.debug("clickhouse %s %s in %.3fs", tpl.name, tag.comment(), time.monotonic() - started)
        for meter in self._meters:
            meter.add(result.stats, query_id)
        return result

    @contextmanager
    def metered(self) -> Iterator[Meter]:
        """Sum the statistics of every statement run inside the block (the cost of a partition). On a
        server, the peak memory of those queries is then read from ``system.query_log`` if it already
        holds them (it is flushed every few seconds: ``peak_memory_bytes`` stays None otherwise)."""
        meter = Meter()
        self._meters.append(meter)
        try:
            yield meter
        finally:
            self._meters.remove(meter)
            if self.engine == "server" and meter.query_ids:
                peak = self._peak_memory(meter.query_ids)
                if peak is not None:
                    meter.stats = replace(meter.stats, peak_memory_bytes=peak)

    def run_statements(self, name: str, *, tag: QueryTag | None = None) -> None:
        """Run every statement of a parameterless multi-statement template (DDL)."""
        for tpl in sqlt.statements(name):
            self.query(tpl, tag=tag)

    def scalar(self, template: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        rows = self.query(template, params, **kw)
        return next(iter(rows[0].values())) if rows else None

    def _run_embedded(self, text: str, params: dict[str, str], settings: dict[str, Any]) -> QueryResult:
        import pyarrow as pa

        session = _EmbeddedSessions.get(self.path, self.lock_timeout_s)
        body = with_settings(text, settings)

        def run():
            result = session.query(body, "Arrow", params=params or None)
            data = result.bytes() if result is not None else b""
            if not data:
                return result, [], []
            table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
            return result, table.column_names, list(zip(*(c.to_pylist() for c in table.columns), strict=True))

        try:
            with _EmbeddedSessions.lock:  # one statement at a time per process: threads share the session
                result, columns, tuples = run()
        except Exception as exc:
            # chdb 4.4: the read right after a failed query gets an empty Arrow buffer ("Unexpected empty
            # message in IPC file format"); a read is safe to repeat once.
            if _first_keyword(body) not in ("SELECT", "WITH") or not _STALE_ARROW.search(str(exc)):
                raise
            with _EmbeddedSessions.lock:
                result, columns, tuples = run()
        if result is None:
            return QueryResult(columns, tuples, QueryStats())
        stats = QueryStats(
            int(result.storage_rows_read()),
            int(result.storage_bytes_read()),
            int(result.rows_written()),
            int(result.bytes_written()),
            float(result.elapsed()),
        )
        return QueryResult(columns, tuples, stats)

    def _run_server(
        self, text: str, params: dict[str, Any], settings: dict[str, Any], query_id: str
    ) -> QueryResult:
        import clickhouse_driver

        client = clickhouse_driver.Client(**self.client_kwargs)
        try:
            started = time.monotonic()
            rows, columns = client.execute(
                text, params, with_column_types=True, query_id=query_id, settings=settings
            )
            names = [c[0] for c in columns]
            last = getattr(client, "last_query", None)
            progress = getattr(last, "progress", None)
            stats = QueryStats(
                int(getattr(progress, "rows", 0) or 0),
                int(getattr(progress, "bytes", 0) or 0),
                int(getattr(progress, "written_rows", 0) or 0),
                int(getattr(progress, "written_bytes", 0) or 0),
                round(time.monotonic() - started, 6),
            )
            return QueryResult(names, [tuple(row) for row in rows], stats)
        except BaseException:
            self._kill(query_id)
            raise
        finally:
            client.disconnect()

    def _peak_memory(self, query_ids: list[str]) -> int | None:
        """Best effort: the largest ``memory_usage`` of these queries in ``system.query_log``."""
        try:
            rows = self.query(
                "clickhouse/peak_memory", {"query_ids": query_ids}, tag=QueryTag(what="cost lookup")
            )
        except Exception as exc:  # no access to system tables, log disabled: the cost stays without it
            log.info("peak memory not available from system.query_log: %s", exc)
            return None
        peak = rows[0]["peak"] if rows else None
        return int(peak) if peak is not None else None

    def _kill(self, query_id: str) -> None:
        """Best effort: stop a server query this task started, so nothing runs on after the task."""
        import clickhouse_driver

        try:
            killer = clickhouse_driver.Client(**self.client_kwargs)
            killer.execute("KILL QUERY WHERE query_id = {query_id:String} ASYNC", {"query_id": query_id})
            killer.disconnect()
            log.warning("killed ClickHouse query %s", query_id)
        except Exception as exc:  # the original error matters more than the kill's
            log.warning("could not kill ClickHouse query %s: %s", query_id, exc)

    def close(self) -> None:
        if self.engine == "chdb":
            _EmbeddedSessions.close()
