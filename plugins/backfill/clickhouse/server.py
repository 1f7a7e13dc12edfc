"""A ClickHouse server over the native protocol (clickhouse-driver, the connection mapped by
airflow-clickhouse-plugin), with server-side query parameters."""

from __future__ import annotations

import logging
import time
from typing import Any

from backfill.clickhouse.tags import QueryResult, QueryStats

log = logging.getLogger(__name__)


def run_server(
    client_kwargs: dict[str, Any], text: str, params: dict[str, Any], settings: dict[str, Any], query_id: str
) -> QueryResult:
    """One statement over the native protocol with server-side parameters; killed by id if interrupted."""
    import clickhouse_driver

    client = clickhouse_driver.Client(**client_kwargs)
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
        kill(client_kwargs, query_id)
        raise
    finally:
        client.disconnect()


def kill(client_kwargs: dict[str, Any], query_id: str) -> None:
    """Best effort: stop a server query this task started, so nothing runs on after the task."""
    import clickhouse_driver

    try:
        killer = clickhouse_driver.Client(**client_kwargs)
        killer.execute("KILL QUERY WHERE query_id = {query_id:String} ASYNC", {"query_id": query_id})
        killer.disconnect()
        log.warning("killed ClickHouse query %s", query_id)
    except Exception as exc:  # the original error matters more than the kill's
        log.warning("could not kill ClickHouse query %s: %s", query_id, exc)
