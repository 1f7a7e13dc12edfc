"""One duckling's upkeep under a ledger claim, and the run's report.

Safe by construction: see ``backfill.upkeep`` (files are deleted only by DuckLake's own cleanup, after a
margin, never while the ledger still names them).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from backfill import params as p
from backfill.duckling import schema
from backfill.duckling.credentials import access_for
from backfill.duckling.errors import DucklingError, describe, is_transient, is_transient_duckdb, with_retries
from backfill.duckling.lake import open_lake
from backfill.duckling.layout import EVENTS, STAGING_DATASETS, STAGING_PREFIXES, day_prefix
from backfill.duckling.referenced import ledger_protected, live
from backfill.duckling.run import FAMILY, Env
from backfill.families import UPKEEP
from backfill.ledger import PartitionKey, detail_of, utcnow
from backfill.run import RunInfo, failure_recorded
from backfill.settings import DUCKLING, MAINTENANCE
from backfill.upkeep import lake_upkeep
from backfill.upkeep.policy import Policy

log = logging.getLogger(__name__)


@dataclass
class Upkeep:
    team_id: int
    merged_files: int = 0
    compacted_days: list[str] = field(default_factory=list)  # events team-days rewritten as one file
    erased_persons: int = 0
    erased_days: list[str] = field(default_factory=list)  # events days rewritten without erased rows
    erasure_watermark: str | None = None
    expired_snapshots: int = 0
    deleted_files: list[str] = field(default_factory=list)
    cleanup_skipped: str | None = None
    staging_files_removed: int = 0  # persons staging Parquet whose merge is done (or erased)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["deleted_files"] = len(self.deleted_files)
        return d


@dataclass(frozen=True)
class Erasure:
    """Persons to erase (deleted in ClickHouse since the watermark, minus the rescan margin, and not merged
    away), the distinct ids that resolve to them now, and the ids a merge moved away from them."""

    keys: tuple[tuple[str, str, int, str], ...] = ()  # (kind, key, version, person) for Lake.erase
    watermark: str | None = None  # the newest deletion's _timestamp (ISO): where the next run starts


def erased_persons(ch, team_id: int, after: dt.datetime) -> Erasure:
    rows = ch.query("duckling/erased_persons", {"team_id": int(team_id), "after": after})
    if not rows:
        return Erasure()
    keys = []
    for r in rows:
        person, version = r["person_id"], int(r["version"])
        keys.append(("person", person, version, person))
        keys += [("distinct_id", d, int(r["ids_version"]), person) for d in r["distinct_ids"]]
        keys += [("kept_id", d, int(r["ids_version"]), person) for d in r["kept_ids"]]
    return Erasure(tuple(keys), max(r["deleted_at"] for r in rows).isoformat())


def maintain_lake(
    lake, protected: set[str], policy: Policy, now: dt.datetime, erasure: Erasure | None = None
) -> Upkeep:
    """Erasure, compaction, expiry, cleanup on an attached lake; ``protected``: files the ledger wants.

    An erasure rewrites the files that held the erased rows, then expires EVERY older snapshot and cleans
    the replaced files at once, inside the time-travel window and without the margin: erasure beats time
    travel (the ledger check still applies)."""
    out = Upkeep(lake.team_id, before=lake.stats())
    what = f"team {lake.team_id} upkeep"
    erased, days = lake_upkeep.erase(lake, list(erasure.keys)) if erasure and not policy.dry_run else (0, [])
    if erased:  # the lake held something of theirs: now it does not
        out.erased_persons = erased
        out.erased_days = [d.isoformat() for d in days]
        policy = replace(policy, keep_snapshot_days=0, cleanup_margin_hours=0)
        now = dt.datetime.now(dt.UTC)
    if policy.compact and not policy.dry_run:
        for table in schema.TABLES.values():
            if not lake.columns(table.name):
                continue
            if table.name == schema.EVENTS.name:
                for day, files in lake_upkeep.events_days_with_several_files(lake):
                    lake_upkeep.compact_events_day(lake, day)
                    out.merged_files += files
                    out.compacted_days.append(day.isoformat())
            else:
                out.merged_files += with_retries(
                    lambda t=table.name: lake_upkeep.merge_adjacent_files(lake, t),
                    is_transient_duckdb,
                    f"{what} merge {table.name}",
                )
    keep_after = now - dt.timedelta(days=policy.keep_snapshot_days)
    out.expired_snapshots = len(
        with_retries(
            lambda: lake_upkeep.expire_snapshots(lake, keep_after, dry_run=policy.dry_run),
            is_transient_duckdb,
            what,
        )
    )
    # measured from the clock now, after the expiry: what it just scheduled waits the whole margin
    margin = dt.datetime.now(dt.UTC) - dt.timedelta(hours=policy.cleanup_margin_hours)
    candidates = lake_upkeep.cleanup_old_files(lake, margin, dry_run=True)
    wanted = sorted(set(candidates) & protected)
    if wanted:
        out.cleanup_skipped = (
            f"{len(wanted)} file(s) due for cleanup are still named by the ledger: {wanted[:3]}"
        )
        log.warning("team %s: cleanup skipped: %s", lake.team_id, out.cleanup_skipped)
    elif candidates and not policy.dry_run:
        out.deleted_files = with_retries(
            lambda: lake_upkeep.cleanup_old_files(lake, margin, dry_run=False), is_transient_duckdb, what
        )
    elif policy.dry_run:
        out.deleted_files = candidates  # what a real run would delete
    out.after = lake.stats()
    return out


def remove_person_staging(env: Env, access, team_id: int, bucket: str, *, erasing: bool) -> int:
    """Delete the persons staging Parquet (``backfill/persons*``, ``backfill/person_distinct_ids*``): the
    lake holds their rows once merged, and they hold personal data. Listed first, the ledger read second
    (as the orphan sweep does): kept are files under the day of a live persons claim (an export in
    flight), and, unless this run erased someone, files younger than a lease and files the ledger still
    wants (recent failures, export-only runs). After an erasure an in-flight merge drops the erased rows by their
    digests and its register deletes its own files."""
    client = access.boto3_client()
    listed = []
    for prefix in STAGING_PREFIXES:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            listed += page.get("Contents", [])
    now = utcnow()
    rows = env.ledger.rows(FAMILY, team_ids=[team_id])
    wanted = set() if erasing else ledger_protected(rows, now)
    in_flight = {
        day_prefix(dataset, team_id, r["day"])
        for r in rows
        if r["kind"] != EVENTS and live(r, now)
        for dataset in STAGING_DATASETS.get(r["kind"], ())
    }
    young = dt.timedelta(seconds=DUCKLING.lease_seconds)
    removed = 0
    for o in listed:
        key = o["Key"]
        if (
            f"s3://{bucket}/{key}" in wanted
            or key.rsplit("/", 1)[0] + "/" in in_flight
            or (not erasing and o["LastModified"].replace(tzinfo=None) > now - young)
        ):
            continue
        client.delete_object(Bucket=bucket, Key=key)
        removed += 1
    return removed


def ducklings(policy: Policy, env: Env | None = None) -> list[int]:
    """The ducklings this run maintains: the registry's, or the params' team_ids (each must exist)."""
    env = env or Env.from_connections()
    registered = env.registry.team_ids()
    if not policy.team_ids:
        return registered
    unknown = sorted(set(policy.team_ids) - set(registered))
    if unknown:
        raise p.ParamsError(f"param team_ids: teams {unknown} have no duckling_registry row")
    return list(policy.team_ids)


class UpkeepFailed(RuntimeError):
    """A duckling's upkeep failed (its task's log and ledger row say why)."""


def report(team_ids: list[int], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per duckling: files, bytes, snapshots after, what was merged, expired, deleted; fails if any failed."""
    done = [r for r in results if r and r.get("status") == "done"]
    finished = {int(r["team_id"]) for r in results if r}
    lines = ["duckling upkeep"]
    for r in done:
        a = r["after"]
        lines.append(
            f"  team {r['team_id']}: {a['data_files']} files, {a['data_bytes']:,} bytes, {a['snapshots']} snapshots; "
            f"merged {r['merged_files']}, expired {r['expired_snapshots']} snapshots, deleted {r['deleted_files']} files"
            + (f"; cleanup skipped: {r['cleanup_skipped']}" if r.get("cleanup_skipped") else "")
        )
    failed = sorted(set(map(int, team_ids)) - finished)
    lines += [f"  team {t}: FAILED (see its maintain task)" for t in failed]
    log.info("%s", "\n".join(lines))
    if failed:
        raise UpkeepFailed(f"upkeep failed for teams {failed}")
    return {"ducklings": len(done), "results": done}


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def retire_covered_rows(env: Env, team_id: int, policy: Policy) -> dict[str, Any]:
    """Ledger retention that never forgets coverage: first move the team's coverage watermark (every
    events day from its first through the mark is done), then delete DONE events rows at or before the
    mark older than the retention. Live claims, failures, deferred and export-only rows stay."""
    from backfill.duckling.detect import advance_history_mark

    first = env.state.earliest_days([team_id]).get(team_id)
    if first is None or policy.dry_run:
        return {"coverage_watermark": None, "ledger_rows_retired": 0}
    mark = advance_history_mark(env, team_id, first, dt.datetime.now(dt.UTC).date())
    retired = 0
    if mark is not None:
        # never a day the late-event check still looks at (the daily run for yesterday checks the
        # settle_days before it), whatever the rows' age
        settled = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DUCKLING.settle_days + 2)
        retired = env.ledger.retire_covered(
            FAMILY, EVENTS, team_id, min(mark, settled), policy.ledger_retention_days
        )
    return {"coverage_watermark": mark.isoformat() if mark else None, "ledger_rows_retired": retired}


def erasure_watermark(env: Env, team_id: int) -> dt.datetime:
    """Where erasure propagation resumes: the newest deletion a successful upkeep propagated. Read from
    the rows' details whatever their status now: a rerun the same day has already claimed that day's row
    (the claim keeps its detail), and a failed run never records a watermark."""
    marks = [detail_of(r).get("erasure_watermark") for r in env.ledger.rows(UPKEEP.name, team_ids=[team_id])]
    marks = [dt.datetime.fromisoformat(m) for m in marks if m]
    newest = max(marks) if marks else EPOCH
    return newest if newest.tzinfo else newest.replace(tzinfo=dt.UTC)


def maintain_duckling(team_id: int, policy: Policy, run: RunInfo, env: Env | None = None) -> dict[str, Any]:
    """One duckling's upkeep under a ledger claim (two runs never maintain one duckling at once)."""
    env = env or Env.from_connections()
    day = (run.data_interval_start or dt.datetime.now(dt.UTC)).date()
    key = PartitionKey(UPKEEP.name, int(team_id), day, UPKEEP.kind)
    if not env.ledger.claim(key, run.owner, MAINTENANCE.lease_seconds):
        return {"team_id": int(team_id), "status": "in_progress"}

    def as_error(exc: Exception) -> DucklingError:
        if isinstance(exc, DucklingError):
            return exc
        return DucklingError(
            int(team_id), None, f"upkeep failed: {describe(exc)}", transient=is_transient(exc)
        )

    with failure_recorded(env.ledger, key, run.owner, as_error):
        duckling = env.registry.get(int(team_id))
        access = access_for(duckling, run.run_id, env.aws_conn_id)
        now = utcnow().replace(tzinfo=dt.UTC)
        rows = env.ledger.rows(FAMILY, team_ids=[int(team_id)])
        watermark = erasure_watermark(env, int(team_id))
        # a margin behind the watermark: a deletion ingested late with an older _timestamp is still seen
        # (an erasure already complete in the lake is found again and changes nothing)
        rescan_from = watermark - dt.timedelta(hours=MAINTENANCE.erasure_rescan_hours)
        erasure = (
            erased_persons(env.ch, int(team_id), rescan_from) if policy.propagate_erasures else Erasure()
        )
        with open_lake(duckling, access) as lake:
            upkeep = maintain_lake(
                lake, ledger_protected(rows, now.replace(tzinfo=None)), policy, now, erasure
            )
        if not policy.dry_run:
            upkeep.staging_files_removed = remove_person_staging(
                env, access, int(team_id), duckling.bucket, erasing=bool(upkeep.erased_persons)
            )
        newest = erasure.watermark if not policy.dry_run else None
        upkeep.erasure_watermark = max(filter(None, (newest, watermark.isoformat())))
    result = {"status": "done", **upkeep.to_dict(), **retire_covered_rows(env, int(team_id), policy)}
    env.ledger.succeed(key, run.owner, detail=result)
    log.info("team %s upkeep: %s", team_id, result)
    return result
