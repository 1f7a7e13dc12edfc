"""How a task attaches a duckling's catalog: the ATTACH statement, the password kept out of it (a private
pgpass file), and the redaction of any message that may still quote it.

DuckDB cannot bind parameters in ATTACH; its values come from the validated registry row and are quoted
here.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from backfill.duckling.registry import Duckling


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _libpq(value: Any) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def attach_sql(duckling: Duckling, passfile: str | None) -> str:
    """The ATTACH statement. The password is never part of it: libpq reads it from ``passfile`` (see
    ``passfile_for``), so no error message, log line or rendered statement can quote it."""
    data_path = f"s3://{duckling.bucket}/"
    if duckling.is_local:
        target = f"ducklake:{duckling.catalog_path}"
    else:
        parts = {
            "dbname": duckling.db_database,
            "host": duckling.db_host,
            "port": duckling.db_port,
            "user": duckling.db_username,
        }
        if passfile:
            parts["passfile"] = passfile
        if duckling.db_sslmode:
            parts["sslmode"] = duckling.db_sslmode
        if duckling.db_sslrootcert:
            parts["sslrootcert"] = duckling.db_sslrootcert
        target = "ducklake:postgres:" + " ".join(f"{k}={_libpq(v)}" for k, v in parts.items())
    # no data inlining: every row lives in a Parquet file and every delete in a delete file or a whole
    # file leaving the snapshot. Inlined (DuckLake's default below 10 rows), a day rewritten by an
    # erasure kept its old file live behind inlined deletions, personal data and all.
    return f"ATTACH {_lit(target)} AS lake (DATA_PATH {_lit(data_path)}, DATA_INLINING_ROW_LIMIT 0)"


@contextmanager
def passfile_for(password: str | None) -> Iterator[str | None]:
    """A private pgpass file (mode 0600) holding only this catalog's password, for the attach's lifetime
    (DuckDB opens catalog connections lazily): the password stays out of every DSN string."""
    if not password:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="duckling-", suffix=".pgpass")
    try:
        with os.fdopen(fd, "w") as f:
            f.write("*:*:*:*:" + password.replace("\\", "\\\\").replace(":", "\\:") + "\n")
        yield path
    finally:
        os.unlink(path)


_PASSWORD_IN_DSN = re.compile(r"""(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)""", re.IGNORECASE)


def redact(text: str, password: str | None) -> str:
    """``text`` without the password in any form an error may quote it: raw, libpq-escaped, SQL-escaped,
    and any ``password=...`` of a DSN (belt and braces: the DSN carries no password any more)."""
    text = _PASSWORD_IN_DSN.sub(r"\1***", text)
    if password:
        forms = {password, _libpq(password)[1:-1], password.replace("'", "''"), _lit(_libpq(password))[1:-1]}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
    return text
