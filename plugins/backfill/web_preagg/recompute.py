"""Recompute one team-day of the pre-aggregated tables, safely.

Per table, ``recompute_team_day``:
  1. computes the team-day into a task-private staging table created AS the target (same columns, in
     the same order), with the table's insert template (the daily job's SQL);
  2. deletes that team's rows of that day from the target (a lightweight delete: other teams' rows in
     the shared day partition are not touched; a partition is never replaced). Written as a patch part
     where the server and the table allow it (``patch_parts_enable.sql``), else as a mutation;
  3. copies the staged rows in (zero staged rows leave zero rows) and checks the copy;
then checks that every table holds the same pageview total (both count the same events, read once per
table with one ingestion cutoff: that total is the source's count) and records it in the ledger. A
team-day with no rows in the target (the usual missing one) needs no delete.
The team-day is claimed in the ledger first (lease, renewed between steps): a live claim of another
owner means another task is writing it, and this one skips. Staging tables are dropped in ``finally``;
those of killed tasks are dropped by the DAG's cleanup task (their names carry the creation time).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import NamedTuple

from backfill.clickhouse import ClickHouse, QueryTag
from backfill.ledger import Ledger, PartitionKey
from backfill.run import failure_recorded
from backfill.settings import WEB_PREAGG
from backfill.web_preagg import FAMILY, KIND, SHORT, TABLES
from backfill.web_preagg.detect import ingested_by, read_settings

log = logging.getLogger(__name__)

STAGING_PREFIX = "web_preagg_staging_"
_STAGING_NAME = re.compile(r"^web_preagg_staging_[a-z]+_\d+_\d{8}_(\d+)_[0-9a-f]+$")


class VerificationError(RuntimeError):
    """The recomputed team-day does not match the staged rows or the source."""


class PatchParts(NamedTuple):
    """Whether a team-day's delete can be a patch part: the server knows ``lightweight_delete_mode``
    (ClickHouse 25.7+) and how many of the two tables keep block numbers and offsets."""

    server: bool
    tables: int

    @property
    def ready(self) -> bool:
        return self.server and self.tables == len(TABLES)

    def delete_settings(self) -> dict:
        # 'lightweight_update' falls back to the mutation by itself on a table without patch parts
        return {"lightweight_delete_mode": "lightweight_update"} if self.server else {}


def patch_parts(ch: ClickHouse, tag: QueryTag | None = None) -> PatchParts:
    row = ch.query("web_preagg/patch_parts_status", {}, tag=tag)[0]
    return PatchParts(bool(row["server"]), int(row["tables"]))


def enable_patch_parts(ch: ClickHouse) -> PatchParts:
    """The opt-in migration of both tables (idempotent); returns the status after it."""
    ch.run_statements("web_preagg/patch_parts_enable", tag=QueryTag("backfill db patch-parts"))
    return patch_parts(ch)


def insert_template(table: str) -> str:
    return f"web_preagg/{SHORT[table]}_insert"


def insert_preaggregated(
    ch: ClickHouse,
    table: str,
    into: str,
    team_ids: list[int],
    start_day: dt.date,
    end_day: dt.date,
    tag: QueryTag,
    as_of: dt.datetime | None = None,
    dedupe_events: bool = WEB_PREAGG.dedupe_events,
) -> None:
    """Run ``table``'s pre-aggregation (the daily job's SQL) for teams and days [start_day, end_day] into
    ``into`` (the target itself or a staging copy of it), over events ingested by ``as_of`` (default now)."""
    if table not in TABLES:
        raise ValueError(f"unknown pre-aggregated table {table!r}")
    params = {"t": into, "team_ids": [int(t) for t in team_ids], "start_day": start_day, "end_day": end_day}
    ch.query(
        insert_template(table),
        {**params, "as_of": as_of or ingested_by()},
        tag=tag,
        settings=read_settings(dedupe_events),
    )


def staging_name(table: str, team_id: int, day: dt.date, now: float | None = None) -> str:
    name = (
        f"{STAGING_PREFIX}{SHORT[table]}_{int(team_id)}_{day:%Y%m%d}_{int(now or time.time())}_"
        f"{uuid.uuid4().hex[:12]}"
    )
    if not _STAGING_NAME.match(name):
        raise ValueError(f"bad staging table name {name!r}")
    return name


def staging_created_at(name: str) -> float | None:
    m = _STAGING_NAME.match(name)
    return float(m.group(1)) if m else None


def team_day_totals(
    ch: ClickHouse, table_name: str, team_id: int, day: dt.date, tag: QueryTag
) -> tuple[int, int]:
    rows = ch.query("web_preagg/team_day_totals", {"t": table_name, "team_id": team_id, "day": day}, tag=tag)
    return int(rows[0]["target_rows"]), int(rows[0]["target_pageviews"])


def claim_holder(ledger: Ledger, team_id: int, day: dt.date) -> str:
    rows = ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day, kind=KIND)
    if not rows:
        return "unknown"
    r = rows[0]
    return f"{r['claim_owner']} (lease until {r['lease_expires_at']} UTC)"


def recompute_table(
    ch: ClickHouse,
    table: str,
    team_id: int,
    day: dt.date,
    dag_id: str,
    on_step=lambda: None,
    as_of: dt.datetime | None = None,
    fence=contextlib.nullcontext,
    dedupe_events: bool = WEB_PREAGG.dedupe_events,
    delete_settings: Callable[[], dict] | None = None,
) -> dict:
    """Staging -> delete team-day -> copy, for one table. Returns {"rows", "pageviews"}. The delete and
    the copy run inside ``fence()`` (the ledger's: only while this run holds a live claim, and a run
    taking the team-day over waits until they are done): two runs never replace one team-day at once."""
    staging = staging_name(table, team_id, day)

    def tag(what: str) -> QueryTag:
        return QueryTag(dag_id, team_id, day, f"{SHORT[table]} {what}")

    try:
        ch.query(f"web_preagg/{SHORT[table]}_staging_create", {"staging": staging}, tag=tag("create staging"))
        insert_preaggregated(
            ch, table, staging, [team_id], day, day, tag("insert staging"), as_of, dedupe_events
        )
        staged = team_day_totals(ch, staging, team_id, day, tag("count staging"))
        on_step()
        with fence():
            if team_day_totals(ch, table, team_id, day, tag("count target"))[0]:  # a missing one has none
                if delete_settings is None:
                    settings = patch_parts(ch, tag("patch parts?")).delete_settings()
                else:
                    settings = delete_settings()
                ch.query(
                    "web_preagg/delete_team_day",
                    {"target": table, "team_id": team_id, "day": day},
                    tag=tag("delete team-day"),
                    settings=settings,
                )
            ch.query("web_preagg/copy_from_staging", {"target": table, "staging": staging}, tag=tag("copy"))
            copied = team_day_totals(ch, table, team_id, day, tag("count target"))
        if copied != staged:
            raise VerificationError(
                f"team {team_id} day {day} {table}: staged {staged[0]} rows/{staged[1]} pageviews but the "
                f"target holds {copied[0]}/{copied[1]} after the copy"
            )
        on_step()
        return {"rows": copied[0], "pageviews": copied[1]}
    finally:
        try:
            ch.query("web_preagg/staging_drop", {"staging": staging}, tag=tag("drop staging"))
        except Exception as exc:  # the cleanup task drops leftovers; keep the original error
            log.warning("could not drop staging table %s: %s", staging, exc)


def recompute_team_day(
    ch: ClickHouse,
    ledger: Ledger,
    team_id: int,
    day: dt.date,
    tables: Iterable[str] = TABLES,
    *,
    owner: str,
    dag_id: str = WEB_PREAGG.dag_id,
    lease_seconds: int = WEB_PREAGG.lease_seconds,
    reason: str = "",
    dedupe_events: bool = WEB_PREAGG.dedupe_events,
) -> dict:
    """Recompute one team-day in ``tables``; returns a small result dict (status done | skipped).

    Raises (after recording ``failed`` in the ledger) if a step or the verification fails."""
    tables = tuple(t for t in TABLES if t in set(tables))
    key = PartitionKey(FAMILY, int(team_id), day, KIND)
    result = {"team_id": int(team_id), "day": day.isoformat(), "tables": list(tables), "reason": reason}
    if not ledger.claim(key, owner, lease_seconds):
        holder = claim_holder(ledger, team_id, day)
        log.warning("team %s day %s: skipped, claimed by %s", team_id, day, holder)
        return {**result, "status": "skipped", "detail": f"claimed by {holder}"}

    def renew() -> None:
        ledger.renew(key, owner, lease_seconds)

    def fence():
        return ledger.fenced(key, owner, lease_seconds)

    @functools.cache
    def delete_settings() -> dict:  # asked once per team-day, and only if a table needs a delete
        return patch_parts(ch, QueryTag(dag_id, team_id, day, "patch parts?")).delete_settings()

    started = time.monotonic()
    as_of = ingested_by()  # the inserts and the verification read the same events, ingestion going on
    with (
        ch.metered() as cost,  # cost: kept on its ledger row
        ledger.heartbeat(key, owner, lease_seconds),
        failure_recorded(
            ledger, key, owner, detail=lambda: {"reason": reason, "clickhouse": cost.stats.to_dict()}
        ),
    ):
        per_table = {}
        for table in tables:
            per_table[SHORT[table]] = recompute_table(
                ch, table, team_id, day, dag_id, renew, as_of, fence, dedupe_events, delete_settings
            )
        # Every table counts the same events (one fragment, one ingestion cutoff): the stats table's
        # pageviews ARE the source's counted events, and every other table must hold the same total.
        source = per_table[SHORT[tables[0]]]["pageviews"]
        for table in tables:
            got = per_table[SHORT[table]]["pageviews"]
            if got != source:
                raise VerificationError(
                    f"team {team_id} day {day} {table}: {got} pageviews after recompute, "
                    f"{SHORT[tables[0]]} has {source}"
                )
    detail = {
        "tables": per_table,
        "reason": reason,
        "seconds": round(time.monotonic() - started, 3),
        "clickhouse": cost.stats.to_dict(),
    }
    ledger.succeed(key, owner, source_count=source, target_count=source, detail=detail)
    log.info("team %s day %s: recomputed %s, %s source pageviews", team_id, day, per_table, source)
    return {**result, "status": "done", "source_pageviews": source, "detail": per_table}
