"""ClickHouse -> S3 Parquet for one partition. Rows never pass through the Airflow worker.

Object keys: see ``layout.py``; a key is new for every attempt and in-task retry, so an export never
overwrites one (ClickHouse refuses an existing key, and we never set s3_truncate_on_insert). A day without
rows writes no file.

The recorded source count is the number of rows the engine reports the INSERT wrote into the file (its
own statistics: one query per file, no count before or after), so the ledger states exactly what the
lake should hold; registration then checks the lake against it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from backfill.clickhouse import NO_QUERIES, ClickHouse, QueryStats, QueryTag
from backfill.duckling.credentials import S3Access, access_for
from backfill.duckling.errors import DucklingError, describe, is_transient_clickhouse, with_retries
from backfill.duckling.layout import (
    EVENTS,
    PERSONS_FULL,
    file_name,
    object_key,
)
from backfill.duckling.params import RunParams
from backfill.duckling.referenced import KEPT_EXPORTS, kept_exports
from backfill.duckling.registry import Duckling
from backfill.duckling.run import FAMILY, Env, RunInfo, failure_recorded, partition_key
from backfill.faults import fault_point
from backfill.ledger import EXPORTED
from backfill.settings import DUCKLING

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    files: list[str] = field(default_factory=list)  # s3:// URLs
    source_count: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Exporter:
    ch: ClickHouse
    access: S3Access
    duckling: Duckling
    run_id: str
    try_number: int = 1
    dag_id: str = "duckling"
    settings: dict[str, Any] = field(default_factory=dict)
    stats: QueryStats = NO_QUERIES  # summed over this exporter's queries

    def _tag(self, day: dt.date, what: str) -> QueryTag:
        return QueryTag(dag_id=self.dag_id, team_id=self.duckling.team_id, day=day, what=what)

    def _run(self, day: dt.date, what: str, fn):
        try:
            return with_retries(fn, is_transient_clickhouse, f"team {self.duckling.team_id} day {day} {what}")
        except DucklingError:
            raise
        except Exception as exc:
            raise DucklingError(
                self.duckling.team_id,
                day,
                f"{what} failed: {describe(exc)}",
                transient=is_transient_clickhouse(exc),
            ) from None

    def _write(
        self, template: str, dataset: str, day: dt.date, params: dict[str, Any]
    ) -> tuple[str | None, int]:
        """Write one file under a fresh key (a new key per retry); return (s3 URL, rows in the file). The
        rows are the engine's own count of what the INSERT wrote (one query, no count before or after);
        a statement that wrote nothing leaves no file (an empty object it may have created is removed)."""

        def attempt():
            key = object_key(dataset, self.duckling.team_id, day, file_name(self.run_id, self.try_number))
            url = self.access.http_url(self.duckling.bucket, key)
            result = self.ch.execute(
                self.access.clickhouse_template(template),
                {**params, "url": url, **self.access.clickhouse_params()},
                tag=self._tag(day, f"export {dataset}"),
                settings=self.settings,
            )
            return key, result.stats

        key, stats = self._run(day, f"export {dataset}", attempt)
        self.stats = self.stats + stats
        if stats.rows_written == 0:
            self._remove_empty(key)
            return None, 0
        return f"s3://{self.duckling.bucket}/{key}", int(stats.rows_written)

    def _remove_empty(self, key: str) -> None:
        try:  # best effort: an unregistered object under the prefix is an orphan the sweep removes anyway
            self.access.boto3_client().delete_object(Bucket=self.duckling.bucket, Key=key)
        except Exception as exc:
            log.info("could not remove the empty export %s: %s", key, describe(exc))

    def events(self, day: dt.date) -> ExportResult:
        team = {"team_id": self.duckling.team_id, "day": day}
        path, rows = self._write("duckling/export_events", EVENTS, day, team)
        return ExportResult([path] if path else [], rows, {"clickhouse_rows": rows})

    def persons(self, day: dt.date, *, full: bool = False) -> ExportResult:
        params = {"team_id": self.duckling.team_id, "day": day, "full": int(full)}
        counts = self._run(
            day,
            "count person changes",
            lambda: self.ch.query(
                "duckling/changed_persons_count",
                params,
                tag=self._tag(day, "count persons"),
                settings=self.settings,
            ),
        )[0]
        result = ExportResult(detail={"persons": 0, "distinct_ids": 0, "full": full})
        suffix = "_full" if full else ""
        if int(counts["persons"]):
            path, rows = self._write("duckling/export_persons", f"persons{suffix}", day, params)
            result.files += [path] if path else []
            result.detail["persons"] = rows
        if int(counts["distinct_ids"]):
            path, rows = self._write(
                "duckling/export_person_distinct_ids", f"person_distinct_ids{suffix}", day, params
            )
            result.files += [path] if path else []
            result.detail["distinct_ids"] = rows
        result.source_count = result.detail["persons"] + result.detail["distinct_ids"]
        return result


def export_only_files(env: Env, key) -> list[str]:
    """The files earlier export-only runs of this partition left on purpose (its row's, if it is
    EXPORTED, and those it already carries): the next export carries them forward on its row."""
    rows = env.ledger.rows(FAMILY, team_ids=[key.team_id], start=key.day, end=key.day, kind=key.kind)
    kept: list[str] = []
    for r in rows:
        kept += kept_exports(r) + (json.loads(r["files"] or "[]") if r["status"] == EXPORTED else [])
    return sorted(set(kept))


def export_partition(item: dict[str, Any], options: RunParams, run: RunInfo, env: Env | None = None) -> dict:
    """Claim the partition and write its file(s) to the duckling's bucket. Returns a small dict."""
    env = env or Env.from_connections()
    key = partition_key(item)
    out = {k: item[k] for k in ("team_id", "day", "kind", "label")}
    out.update(files=[], source_count=0)
    if options.dry_run:
        return {**out, "status": "dry_run"}
    env.ledger.renew_owner(FAMILY, run.owner, DUCKLING.lease_seconds)  # this run is progressing
    kept = export_only_files(env, key)  # read before the claim replaces the row's files
    if not env.ledger.claim(key, run.owner, DUCKLING.lease_seconds):
        log.info("%s is in progress elsewhere (live claim): skipped", item["label"])
        return {**out, "status": "in_progress"}
    # from here on, every failure is on the partition's ledger row; the claim is renewed while it works
    with failure_recorded(env, key, run), env.ledger.heartbeat(key, run.owner, DUCKLING.lease_seconds):
        fault_point("export:claimed")
        duckling = env.registry.get(key.team_id)  # a bad or missing row fails here: nothing written
        access = access_for(duckling, run.run_id, env.aws_conn_id, env.clickhouse_s3_auth)
        exporter = Exporter(
            env.ch, access, duckling, run.run_id, run.try_number, run.dag_id, options.clickhouse_settings
        )
        full = key.kind == PERSONS_FULL
        res = exporter.events(key.day) if key.kind == EVENTS else exporter.persons(key.day, full=full)
        fault_point("export:written")
    cost = exporter.stats.to_dict()  # the partition's ClickHouse cost, kept on its ledger row
    detail = {"export": res.detail, "run_id": run.run_id, "clickhouse": cost}
    if kept:
        detail[KEPT_EXPORTS] = kept
    recorded = {"files": res.files, "source_count": res.source_count}
    if options.skip_ducklake_registration:
        detail["registration"] = "skipped: skip_ducklake_registration"
        env.ledger.succeed(key, run.owner, status=EXPORTED, detail=detail, **recorded)
        status = "exported_only"
    else:
        env.ledger.progress(key, run.owner, detail=detail, **recorded)
        status = "exported"
    log.info("%s: exported %d rows in %d file(s)", item["label"], res.source_count, len(res.files))
    carried = {KEPT_EXPORTS: kept} if kept else {}  # register records them again on the row
    return {**out, **recorded, "status": status, "clickhouse": cost, **carried}
