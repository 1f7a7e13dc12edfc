"""The embedded engine (chdb): one session per process on a data directory, statements serialized
across threads, query settings rendered into the statement (chdb has no out-of-band settings channel).
One process may hold a chdb directory at a time, so opening it waits (bounded) for the holder."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

from backfill.clickhouse.tags import COMMENT_SAFE, QueryResult, QueryStats
from backfill.locks import is_locked
from backfill.settings import CLICKHOUSE

_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_STALE_ARROW = re.compile(r"Unexpected empty message in IPC file format|Invalid flatbuffers message")


class EngineBusyError(RuntimeError):
    """The embedded engine's directory stayed locked by another process past the timeout."""


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
            safe = COMMENT_SAFE.sub("_", value)
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


def directory_locked(path: str) -> bool:
    """True if another process holds the chdb directory (ClickHouse flocks ``<path>/status``)."""
    return is_locked(os.path.join(path, "status"))


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


# this process's time waiting for the directory (another process holds it) and opening chdb on it:
# the timing line of a task (backfill.run.timed) reports them, so a benchmark can attribute them
STATS = {"lock_wait_s": 0.0, "open_s": 0.0}


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

            started = time.monotonic()
            deadline = started + timeout_s
            while True:
                # Probe the lock first: a failed chdb start is slow and prints an error to stderr.
                if not directory_locked(path):
                    opening = time.monotonic()
                    try:
                        cls.session = chdb_session.Session(path)
                        cls.path = path
                        STATS["lock_wait_s"] += opening - started
                        STATS["open_s"] += time.monotonic() - opening
                        return cls.session
                    except Exception:  # chdb reports the lock only as a failed server start
                        if not directory_locked(path):
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


def run_embedded(
    path: str, lock_timeout_s: float, text: str, params: dict[str, str], settings: dict[str, Any]
) -> QueryResult:
    """One statement on the process's chdb session (opened on first use), statements serialized."""
    import pyarrow as pa

    session = _EmbeddedSessions.get(path, lock_timeout_s)
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
