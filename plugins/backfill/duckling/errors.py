"""Transient vs permanent faults, and the in-task retry policy.

Transient (retried inside the task with exponential backoff): S3 5xx / 429 / SlowDown, connection drops
and timeouts, DuckLake commit conflicts. Everything else is permanent and fails at once with a message
naming the team, the day and the cause (403, missing bucket, bad schema, bad registry row...).

ClickHouse reports S3 failures as its own exceptions (``Code: 499 ... (S3_ERROR)``): the code and the
text decide. chdb raises ``ChdbError``/``RuntimeError``; the server driver raises ``ServerException``
with ``.code``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from backfill.settings import DUCKLING

log = logging.getLogger(__name__)
T = TypeVar("T")


class DucklingError(RuntimeError):
    """A failure of one partition, with its coordinates in the message."""

    def __init__(self, team_id: int | None, day: object, cause: str, *, transient: bool = False):
        self.team_id, self.day, self.cause, self.transient = team_id, day, cause, transient
        where = f"team {team_id}" if team_id is not None else "duckling"
        if day is not None:
            where += f" day {day}"
        super().__init__(f"{where}: {cause}")


class RegistryError(DucklingError):
    """The team has no duckling_registry row, or the row fails validation."""


class SchemaError(DucklingError):
    """The duckling table does not have the columns/types registration needs."""


class OptionsError(ValueError):
    """Run parameters that make no sense together or break a guarantee."""


# ClickHouse error codes. Transient: network/timeouts/too many parts/memory pressure from others.
CH_TRANSIENT_CODES = {
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    159,  # TIMEOUT_EXCEEDED (distributed) -- only when text says connect/receive timeout, see below
    252,  # TOO_MANY_PARTS
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    242,  # TABLE_IS_READ_ONLY (replica reconnecting)
    319,  # UNKNOWN_STATUS_OF_INSERT
    425,  # SYSTEM_ERROR
    1000,  # POCO_EXCEPTION (connection reset etc.)
}
CH_PERMANENT_CODES = {
    36,  # BAD_ARGUMENTS (e.g. object already exists)
    241,  # MEMORY_LIMIT_EXCEEDED for this query's own limit
    457,  # BAD_QUERY_PARAMETER
    62,  # SYNTAX_ERROR
    47,  # UNKNOWN_IDENTIFIER
    60,  # UNKNOWN_TABLE
    164,  # READONLY
    497,  # ACCESS_DENIED
}
# S3 text inside ClickHouse/DuckDB/boto messages.
_S3_TRANSIENT = re.compile(
    r"SlowDown|Slow Down|ServiceUnavailable|Service Unavailable|InternalError|Internal Server Error|"
    r"RequestTimeout|Too Many Requests|TooManyRequests|Throttl|HTTP (?:5\d\d|429)|\b(?:500|502|503|504|429)\b|"
    r"Connection reset|Connection refused|Broken pipe|timed out|Timeout|connection (?:was )?closed|"
    r"server closed the connection|could not connect|Could not establish connection|EOF detected",
    re.IGNORECASE,
)
_S3_PERMANENT = re.compile(
    r"AccessDenied|Access Denied|\b403\b|NoSuchBucket|bucket does not exist|InvalidAccessKeyId|"
    r"SignatureDoesNotMatch|ExpiredToken|InvalidBucketName|\b404\b|NoSuchKey|already exists",
    re.IGNORECASE,
)
_DUCKLAKE_CONFLICT = re.compile(
    r"Transaction conflict|conflict|could not serialize|deadlock detected|Catalog write-write|"
    r"Failed to commit DuckLake transaction|"
    # two first ATTACHes of a fresh catalog race to create its metadata tables; the loser retries
    r"duplicate key value violates unique constraint|Failed to initialize DuckLake[\s\S]*already exists",
    re.IGNORECASE,
)
# the catalog's PostgreSQL went away (restart, failover, terminated backend): a fresh ATTACH recovers
_CATALOG_GONE = re.compile(
    r"terminating connection|server closed the connection|connection to server|no connection to the server|"
    r"SSL connection has been closed|connection already closed|could not receive data|Failed to commit:|"
    r"Failed to execute query \"ROLLBACK\"",
    re.IGNORECASE,
)
_CODE = re.compile(r"Code:\s*(\d+)")


def clickhouse_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    m = _CODE.search(str(exc))
    return int(m.group(1)) if m else None


def is_transient_clickhouse(exc: BaseException) -> bool:
    """Classify a ClickHouse exception (chdb or server) by its code, then by the S3 text it carries."""
    if isinstance(exc, DucklingError):
        return exc.transient
    text = str(exc)
    code = clickhouse_code(exc)
    if _S3_PERMANENT.search(text):
        return False
    if code in CH_PERMANENT_CODES:
        return False
    if code == 499:  # S3_ERROR: decided by the S3 error inside
        return bool(_S3_TRANSIENT.search(text))
    if code in CH_TRANSIENT_CODES:
        return code != 159 or bool(re.search(r"connect|receive|send", text, re.IGNORECASE))
    if code is None and isinstance(exc, ConnectionError | TimeoutError | OSError):
        return True
    return code is None and bool(_S3_TRANSIENT.search(text))


def is_transient_duckdb(exc: BaseException) -> bool:
    """Classify a DuckDB / DuckLake / catalog-connection exception."""
    if isinstance(exc, DucklingError):
        return exc.transient
    text = str(exc)
    if _S3_PERMANENT.search(text) and not _DUCKLAKE_CONFLICT.search(text):
        return False
    if _DUCKLAKE_CONFLICT.search(text) or _CATALOG_GONE.search(text):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return bool(_S3_TRANSIENT.search(text))


def is_transient_s3(exc: BaseException) -> bool:
    """Classify a boto3/botocore exception (listing, deleting, STS)."""
    resp = getattr(exc, "response", None) or {}
    status = (resp.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    code = (resp.get("Error") or {}).get("Code", "")
    if status is not None:
        return status >= 500 or status == 429 or code in ("SlowDown", "Throttling", "RequestTimeout")
    return isinstance(exc, ConnectionError | TimeoutError) or bool(_S3_TRANSIENT.search(str(exc)))


def is_transient(exc: BaseException) -> bool:
    """Any fault of a partition's task: transient when any engine's rule says so, or when the app DB
    (the ledger, the registry) lost its connection. Everything else is permanent."""
    if isinstance(exc, DucklingError):
        return exc.transient
    try:
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
    except ImportError:  # pragma: no cover - SQLAlchemy ships with Airflow
        pass
    return is_transient_clickhouse(exc) or is_transient_duckdb(exc) or is_transient_s3(exc)


def with_retries(
    fn: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    what: str,
    *,
    attempts: int | None = None,
) -> T:
    """Run ``fn``; retry transient faults with exponential backoff; re-raise anything else at once."""
    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts or DUCKLING.retry_attempts),
        wait=wait_exponential(multiplier=DUCKLING.retry_wait_initial_s, max=DUCKLING.retry_wait_max_s),
        reraise=True,
        before_sleep=lambda rs: log.warning(
            "%s: transient fault (attempt %d), retrying: %s",
            what,
            rs.attempt_number,
            str(rs.outcome.exception())[:300],
        ),
    )
    return retrying(fn)


def describe(exc: BaseException, limit: int = 500) -> str:
    """One line of cause text for a failure message, bounded. Every line is kept (joined by " | "): the
    root cause is often last (libpq's "SSL error: certificate verify failed" follows DuckDB's "Failed
    to attach ..."), so a long text keeps its head and its tail."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {' | '.join(lines) if lines else type(exc).__name__}"
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    return f"{text[:head]} … {text[-(limit - head - 3) :]}"
