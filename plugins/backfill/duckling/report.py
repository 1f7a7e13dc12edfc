"""The last task of each duckling DAG: every planned partition's outcome from the ledger, the orphan
sweep, warnings; it fails the run when a partition failed."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from backfill import metrics
from backfill.clickhouse import NO_QUERIES, QueryStats
from backfill.duckling import orphans
from backfill.duckling.errors import DucklingError
from backfill.duckling.params import RunParams
from backfill.duckling.run import FAMILY, Env, RunInfo
from backfill.ledger import CLAIMED, DONE, EXPORTED, FAILED, SKIPPED, detail_of

log = logging.getLogger(__name__)
NOT_RUN, UNFINISHED = "not run", "unfinished"
FAILURES = (FAILED, NOT_RUN, UNFINISHED)


@dataclass
class Report:
    mode: str
    rows: list[dict] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    deferred_over_cap: int = 0
    orphans_removed: list[str] = field(default_factory=list)
    orphans_kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    would_do: list[str] = field(default_factory=list)
    clickhouse: QueryStats = NO_QUERIES  # summed over this run's partitions (their ledger rows)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] in FAILURES]

    @property
    def rows_exported(self) -> int:
        return sum(int(r["source_count"] or 0) for r in self.rows if r["status"] in (DONE, EXPORTED))

    @property
    def rows_registered(self) -> int:
        return sum(int(r["target_count"] or 0) for r in self.rows if r["status"] == DONE)

    def outcomes(self) -> dict[str, int]:
        """Partitions per metric outcome (backfill.metrics): done | failed | skipped | deferred."""
        done = sum(1 for r in self.rows if r["status"] in (DONE, EXPORTED))
        skipped = sum(1 for r in self.rows if r["status"] in (SKIPPED, "in_progress"))
        return {
            "done": done,
            "failed": len(self.failed),
            "skipped": skipped,
            "deferred": self.deferred_over_cap,
        }

    def as_dict(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for r in self.rows:
            by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        return {
            "mode": self.mode,
            "by_status": by_status,
            "failed": [r["label"] + ": " + (r["error"] or "") for r in self.failed],
            "in_progress": self.in_progress,
            "deferred_over_cap": self.deferred_over_cap,
            "orphans_removed": self.orphans_removed,
            "orphans_kept": self.orphans_kept,
            "warnings": self.warnings,
            "would_do": self.would_do,
            "rows_exported": self.rows_exported,
            "rows_registered": self.rows_registered,
            "clickhouse": self.clickhouse.to_dict(),
            "rows": [
                {k: r[k] for k in ("label", "status", "source_count", "target_count")} for r in self.rows
            ],
        }

    def text(self) -> str:
        lines = [f"duckling {self.mode} report"]
        for r in self.rows:
            lines.append(
                f"  {r['label']:<40} {r['status']:<9} source={r['source_count']} lake={r['target_count']}"
                + (f"  error: {r['error']}" if r["error"] else "")
            )
        ch = self.clickhouse
        if ch.queries:
            lines.append(
                f"  ClickHouse: {ch.queries} queries read {ch.rows_read} rows / {ch.bytes_read} bytes, "
                f"wrote {ch.rows_written} rows / {ch.bytes_written} bytes in {ch.elapsed_s:.2f} s"
            )
        lines += [f"  WARNING: {w}" for w in self.warnings]
        if self.in_progress:
            lines.append(f"  in progress elsewhere (skipped): {', '.join(self.in_progress)}")
        if self.deferred_over_cap:
            lines.append(f"  deferred to later runs (over max_partitions): {self.deferred_over_cap}")
        lines += [f"  orphan removed: {o}" for o in self.orphans_removed]
        lines += [f"  orphan kept: {o}" for o in self.orphans_kept]
        if self.would_do:
            lines.append(f"  dry run, would do: {', '.join(self.would_do)}")
        return "\n".join(lines)


def report(
    summary: dict[str, Any],
    options: RunParams,
    run: RunInfo,
    env: Env | None = None,
    *,
    results: list[dict] | None = None,
    raise_on_failure: bool = True,
) -> dict[str, Any]:
    """Outcome of every planned partition, orphans, warnings. Fails if a partition failed, did not
    finish, or never ran (a task that died before it could claim the partition)."""
    env = env or Env.from_connections()
    rep = Report(
        summary["mode"],
        in_progress=summary.get("in_progress", []),
        deferred_over_cap=summary.get("deferred_over_cap", 0),
        would_do=summary.get("would_do", []),
    )
    items = [] if options.dry_run else summary.get("items", [])
    ledger = _ledger_rows_for(items, env)  # one query for every planned partition
    returned = {r["label"]: r for r in results or []}
    for it in items:
        row = ledger.get((int(it["team_id"]), it["day"], it["kind"]))
        rep.rows.append({"label": it["label"], **outcome(row, returned.get(it["label"]), run.owner)})
        if row is not None and row["claim_owner"] == run.owner:
            rep.clickhouse = rep.clickhouse + QueryStats.from_dict(detail_of(row).get("clickhouse"))
    if not options.cleanup_existing_partition_data and items:
        rep.warnings.append(
            "cleanup_existing_partition_data=false: files were APPENDED without deleting the "
            "day's existing rows; the one-copy guarantee is given up for these partitions"
        )
    if options.skip_ducklake_registration and items:
        rep.warnings.append(
            "skip_ducklake_registration: files were written to S3 and recorded in the ledger, "
            "not registered in the DuckLake"
        )
    if not options.dry_run:
        swept = orphans.sweep(items, run, env)
        rep.orphans_removed, rep.orphans_kept = swept.removed, swept.kept
        rep.warnings += swept.warnings
    log.info("%s", rep.text())
    result = rep.as_dict()
    if not options.dry_run:
        metrics.emit_run(FAMILY, rep.outcomes(), rows_exported=rep.rows_exported,
                         rows_registered=rep.rows_registered, clickhouse=result["clickhouse"])  # fmt: skip
    if raise_on_failure and rep.failed:
        raise DucklingError(
            None, None, f"{len(rep.failed)} partition(s) failed: " + "; ".join(result["failed"])[:3000]
        )
    return result


def outcome(row: dict | None, returned: dict | None, owner: str) -> dict[str, Any]:
    """One partition's outcome in this run, from its ledger row and what its last task returned."""
    counts = {k: (row or {}).get(k) for k in ("source_count", "target_count")}
    if row is not None and row["claim_owner"] == owner:
        if row["status"] == CLAIMED:  # claimed by this run, never finished: killed, or lost its lease
            return {"status": UNFINISHED, **counts, "error": row.get("error") or "claimed but never finished"}
        return {"status": row["status"], **counts, "error": row.get("error")}
    if (row is not None and row["status"] == CLAIMED) or (returned or {}).get("status") == "in_progress":
        return {"status": "in_progress", **counts, "error": None}
    return {
        "status": NOT_RUN,
        "source_count": None,
        "target_count": None,
        "error": "the partition's task failed before claiming it (see its log)",
    }


def _ledger_rows_for(items: list[dict], env: Env) -> dict[tuple[int, str, str], dict]:
    """Ledger rows of the planned partitions, keyed (team_id, ISO day, kind)."""
    if not items:
        return {}
    days = [dt.date.fromisoformat(it["day"]) for it in items]
    teams = sorted({int(it["team_id"]) for it in items})
    rows = env.ledger.rows(FAMILY, team_ids=teams, start=min(days), end=max(days))
    return {(int(r["team_id"]), r["day"].isoformat(), r["kind"]): r for r in rows}
