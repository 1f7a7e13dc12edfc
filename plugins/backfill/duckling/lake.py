"""DuckDB + DuckLake for one duckling: attach its catalog once per task, create/check tables, register
a team-day atomically, merge persons, count. Upkeep (compaction, erasure, expiry, cleanup) works on an
attached ``Lake`` from ``backfill/upkeep/lake_upkeep.py``; the ATTACH itself is ``attach.py``.

Remote catalog: ``ATTACH 'ducklake:postgres:dbname=.. host=.. port=.. user=.. password=..' AS lake
(DATA_PATH 's3://{bucket}/')``. Local (embedded demo): ``ATTACH 'ducklake:{catalog_path}'`` -- a file
catalog admits one writer process, so the task first takes an exclusive ``fcntl`` lock on
``{catalog_path}.lock``, waiting (bounded) for the holder.

DuckDB cannot bind parameters in ATTACH / CREATE SECRET; those values come from the validated registry
row and the AWS connection and are quoted (``attach.py``). Every other statement is a template under
include/sql/duckling/lake with ``$name`` parameters.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from backfill import duckdb_conn
from backfill import sql as sqlt
from backfill.duckling import schema
from backfill.duckling.attach import attach_sql, passfile_for, redact
from backfill.duckling.credentials import S3Access
from backfill.duckling.errors import DucklingError, SchemaError, describe, is_transient_duckdb, with_retries
from backfill.duckling.layout import EVENTS, day_prefix
from backfill.duckling.registry import Duckling
from backfill.faults import fault_point
from backfill.locks import file_lock
from backfill.settings import DUCKLING

log = logging.getLogger(__name__)


class CatalogBusyError(DucklingError):
    """The local file catalog stayed locked by another process past the timeout."""


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def q(name: str) -> str:
    return sqlt.load(f"duckling/lake/{name}").text


def qs(name: str) -> list[str]:
    return [t.text for t in sqlt.statements(f"duckling/lake/{name}")]


@dataclass
class Lake:
    con: Any  # duckdb.DuckDBPyConnection
    duckling: Duckling

    @property
    def team_id(self) -> int:
        return self.duckling.team_id

    def fetch(self, sql: str, params: dict | None = None) -> list[dict]:
        cur = self.con.execute(sql, params or {})
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def transaction(self, body: Callable[[], Any], what: str, fence: Callable[[], Any] | None = None) -> Any:
        """Run ``body`` in one DuckLake transaction; retry the whole of it on transient faults. ``fence``:
        a context manager factory the COMMIT runs inside (the ledger's ``fenced``: no commit without a
        live claim)."""

        def attempt():
            self.con.execute("BEGIN TRANSACTION")
            try:
                result = body()
                if fence is None:
                    self.con.execute("COMMIT")
                else:
                    with fence():
                        fault_point("register:fenced")
                        self.con.execute("COMMIT")
                return result
            except BaseException:
                try:
                    self.con.execute("ROLLBACK")
                except Exception:  # the failed COMMIT may already have ended the transaction
                    pass
                raise

        return with_retries(attempt, is_transient_duckdb, what)

    # --- tables -------------------------------------------------------------------------------
    def columns(self, table: str) -> dict[str, str]:
        return {r["column_name"]: r["data_type"] for r in self.fetch(q("table_columns"), {"table": table})}

    def ensure_tables(self, kind: str, *, create_if_missing: bool, validate: bool, day: Any = None) -> None:
        """Create the kind's tables if missing (concurrent creators both succeed), then check columns."""
        for table in schema.TABLES_FOR_KIND[kind]:
            if not self.columns(table.name):
                if not create_if_missing:
                    raise SchemaError(
                        self.team_id,
                        day,
                        f"lake table {table.name} does not exist and create_tables_if_missing is false",
                    )

                def create(table=table):
                    if self.columns(table.name):  # a concurrent creator won: nothing to do
                        return
                    self.con.execute(table.create_sql())
                    if table.partition_sql():
                        self.con.execute(table.partition_sql())

                self.transaction(create, f"team {self.team_id} create lake table {table.name}")
            if validate:
                problems = schema.check_columns(table, self.columns(table.name))
                if problems:
                    raise SchemaError(
                        self.team_id,
                        day,
                        f"lake table {table.name} does not match the export: " + "; ".join(problems),
                    )

    def drop_tables(self) -> None:
        def drop():
            for table in schema.TABLES.values():
                self.con.execute(f"DROP TABLE IF EXISTS lake.main.{table.name}")

        self.transaction(drop, f"team {self.team_id} drop lake tables")

    # --- events -------------------------------------------------------------------------------
    def referenced_files(self, basename: str = "") -> dict[str, str]:
        """Every file the catalog references, full path -> where (data | delete | scheduled): the files of
        any snapshot, and those scheduled for deletion until a cleanup removes them. With ``basename``,
        only the paths ending with that file name. Part of the one referenced set (``referenced.py``)."""
        return {r["path"]: r["source"] for r in self.fetch(q("referenced_files"), {"basename": basename})}

    def live_event_files(self, day: dt.date) -> set[str]:
        """The events files of this team-day in the current snapshot, as absolute URLs."""
        prefix = f"s3://{self.duckling.bucket}/{day_prefix(EVENTS, self.team_id, day)}"
        return {
            r["data_file"] for r in self.fetch(q("live_event_files")) if r["data_file"].startswith(prefix)
        }

    def _already_registered(self, path: str) -> list[str]:
        return [p for p in self.referenced_files(path.rsplit("/", 1)[-1]) if p == path]

    def _load_erased_digests(self) -> bool:
        """The team's erasure digests into the temp table erased_digests; False when it has none."""
        if not self.columns("person_deletions"):
            return False
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE erased_digests AS " + q("erased_digests"), {"team_id": self.team_id}
        )
        return bool(self.con.execute("SELECT count(*) FROM erased_digests").fetchone()[0])

    def erased_rows_in(self, paths: list[str]) -> int:
        """Rows of these exported files that belong to persons erased from this lake (0 when the team has
        no erasure: the common case costs one catalog query)."""
        if not paths or not self._load_erased_digests():
            return 0
        return int(self.con.execute(q("count_erased_in_files"), {"paths": paths}).fetchone()[0])

    def register_events(
        self,
        day: dt.date,
        paths: list[str],
        *,
        cleanup: bool = True,
        before_commit: Callable[[], None] | None = None,
        without_erased: bool = False,
        fence: Callable[[], Any] | None = None,
    ) -> None:
        """One transaction: delete the team-day (unless cleanup is off), add this attempt's files, commit.

        A path the catalog already references (in any snapshot) is refused: DuckLake would accept it
        again and double the rows. ``without_erased``: the files hold rows of erased persons, so their
        other rows are written by DuckLake instead (the files themselves stay unregistered).
        """
        start, end = day_window(day)

        def body():
            for path in paths:
                if self._already_registered(path):
                    raise DucklingError(
                        self.team_id,
                        day,
                        f"file {path} is already registered in the catalog; refusing to register it twice",
                    )
            if cleanup:
                self.con.execute(
                    q("delete_events_day"), {"team_id": self.team_id, "day_start": start, "day_end": end}
                )
            if without_erased:
                self.con.execute(q("insert_events_without_erased"), {"paths": paths})
            else:
                for path in paths:
                    self.con.execute(q("add_events_file"), {"path": path})
            fault_point("register:files_added")
            if before_commit:
                before_commit()

        self.transaction(body, f"team {self.team_id} day {day} register events", fence)

    def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.fetch(q("lake_stats"))[0].items()}

    def events_day_count(self, day: dt.date) -> tuple[int, int]:
        start, end = day_window(day)
        r = self.fetch(q("count_events_day"), {"team_id": self.team_id, "day_start": start, "day_end": end})[
            0
        ]
        return int(r["n"]), int(r["uuids"])

    # --- persons ------------------------------------------------------------------------------
    def merge_persons(
        self,
        persons_paths: list[str],
        distinct_id_paths: list[str],
        *,
        day: Any = None,
        before_commit: Callable[[], None] | None = None,
        fence: Callable[[], Any] | None = None,
    ) -> tuple[int, int]:
        """Stage the files, then one transaction merging them version-guarded. Returns (staged, applied)."""
        for stmt in qs("empty_stage"):
            self.con.execute(stmt)
        if persons_paths:
            self.con.execute(q("stage_persons"), {"paths": persons_paths, "team_id": self.team_id})
        if distinct_id_paths:
            self.con.execute(q("stage_distinct_ids"), {"paths": distinct_id_paths, "team_id": self.team_id})
        if self.columns("person_deletions"):  # an erased person is never written back
            for stmt in qs("drop_erased_staged"):
                self.con.execute(stmt, {"team_id": self.team_id})
        staged = int(
            self.con.execute(
                "SELECT (SELECT count(*) FROM new_persons) + (SELECT count(*) FROM new_distinct_ids)"
            ).fetchone()[0]
        )

        def body():
            for stmt in qs("merge_persons") + qs("merge_distinct_ids"):
                self.con.execute(stmt, {"team_id": self.team_id})
            if before_commit:
                before_commit()

        self.transaction(body, f"team {self.team_id} day {day} merge persons", fence)
        applied = int(self.fetch(q("applied_persons"), {"team_id": self.team_id})[0]["applied"])
        return staged, applied

    def persons(self) -> list[dict]:
        return self.fetch(
            "SELECT CAST(id AS VARCHAR) AS id, version, properties FROM lake.main.persons "
            "WHERE team_id = $t ORDER BY id",
            {"t": self.team_id},
        )

    def distinct_ids(self) -> list[dict]:
        return self.fetch(
            "SELECT distinct_id, CAST(person_id AS VARCHAR) AS person_id, version "
            "FROM lake.main.person_distinct_ids WHERE team_id = $t ORDER BY distinct_id",
            {"t": self.team_id},
        )


@contextmanager
def open_lake(duckling: Duckling, access: S3Access, *, lock_timeout_s: float | None = None) -> Iterator[Lake]:
    """Attach the duckling's catalog (one attach per task); hold the file lock for a local catalog."""
    lock = (
        file_lock(
            duckling.catalog_path + ".lock",
            lock_timeout_s or DUCKLING.local_catalog_lock_timeout_s,
            DUCKLING.local_catalog_lock_poll_s,
            busy=lambda waited: CatalogBusyError(
                None,
                None,
                f"local DuckLake catalog {duckling.catalog_path} is held by another process; "
                f"gave up after {waited:.0f}s",
            ),
        )
        if duckling.is_local
        else contextlib.nullcontext()
    )
    try:
        with lock:
            # a local file catalog needs no postgres extension (each LOAD costs ~0.1 s)
            extensions = ("httpfs", "ducklake") if duckling.is_local else duckdb_conn.EXTENSIONS
            with duckdb_conn.session(extensions, cleanup=_leave_nothing_behind) as con:
                con.execute(access.duckdb_secret_sql(duckling.bucket, SECRET))
                password = None if duckling.is_local else duckling.password()
                with passfile_for(password) as passfile:
                    sql = attach_sql(duckling, passfile)
                    try:
                        with_retries(
                            lambda: con.execute(sql), is_transient_duckdb, f"team {duckling.team_id} attach"
                        )
                    except Exception as exc:
                        raise DucklingError(
                            duckling.team_id,
                            None,
                            f"cannot attach DuckLake catalog: {redact(describe(exc), password)}",
                            transient=is_transient_duckdb(exc),
                        ) from None
                    yield Lake(con, duckling)
    except CatalogBusyError as exc:
        raise CatalogBusyError(duckling.team_id, None, exc.cause) from None


SECRET = "duckling_s3"


def _leave_nothing_behind(con: Any) -> None:
    """Detach the catalog and drop the secret: the shared DuckDB instance keeps only its extensions (if
    this raises, ``duckdb_conn.session`` discards the instance)."""
    try:
        con.execute("ROLLBACK")
    except Exception:  # the usual case: no transaction is open (every transaction ends in _txn)
        pass
    con.execute("DETACH DATABASE IF EXISTS lake")
    con.execute(f"DROP SECRET IF EXISTS {SECRET}")


__all__ = ["CatalogBusyError", "Lake", "attach_sql", "open_lake", "redact"]
