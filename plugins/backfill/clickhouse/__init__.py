"""The one ClickHouse seam: run a named SQL template with typed server-side parameters.

The Airflow connection ``clickhouse_default`` chooses the engine by its type:

* ``clickhouse`` (or anything else): a ClickHouse server over the native protocol, through
  airflow-clickhouse-plugin's connection mapping and clickhouse-driver with ``server_side_params``.
* ``chdb``: the embedded engine, data in the directory named by the extra ``path`` (or the host part).
  One process may hold a chdb directory at a time, so opening it waits (bounded) for the holder.

Modules: this seam (``ClickHouse``), ``tags`` (query tags and statistics), ``server``, ``embedded``.

Both run the same SQL text. Each query carries a ``query_id`` and a ``log_comment``; if the task is
interrupted (``execution_timeout``, SIGTERM) while a server query runs, the seam kills it by id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from backfill import sql as sqlt
from backfill.clickhouse import embedded, server
from backfill.clickhouse.embedded import EngineBusyError, with_settings
from backfill.clickhouse.tags import NO_QUERIES, Meter, QueryResult, QueryStats, QueryTag
from backfill.settings import CLICKHOUSE, CONNECTIONS

__all__ = [
    "NO_QUERIES",
    "ClickHouse",
    "EngineBusyError",
    "Meter",
    "QueryResult",
    "QueryStats",
    "QueryTag",
    "with_settings",
]
log = logging.getLogger(__name__)


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
                result = embedded.run_embedded(
                    self.path, self.lock_timeout_s, tpl.text, text_params, all_settings
                )
            else:
                result = server.run_server(self.client_kwargs, tpl.text, params or {}, all_settings, query_id)
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

    def close(self) -> None:
        if self.engine == "chdb":
            embedded._EmbeddedSessions.close()
