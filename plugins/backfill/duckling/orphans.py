"""Orphans: event files under a team-day prefix that the catalog never referenced.

They are left by failed or killed attempts (export done, registration never committed). A file is an
orphan only when (1) no snapshot of the catalog references it (a file replaced by a later day
registration is still referenced by old snapshots: DuckLake's own expire/cleanup owns it), (2) the
ledger records it for no partition that is still in progress (live claim) or that was exported on
purpose with skip_ducklake_registration. Only such files are removed. Persons files are staging files
(merged row by row, recorded in the ledger) and are not scanned.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from backfill.duckling.credentials import access_for
from backfill.duckling.errors import describe
from backfill.duckling.export import EVENTS, day_prefix
from backfill.duckling.lake import open_lake
from backfill.duckling.run import FAMILY, Env, RunInfo
from backfill.ledger import CLAIMED, utcnow


def list_day_files(s3client, bucket: str, team_id: int, day: dt.date) -> list[str]:
    prefix = day_prefix(EVENTS, team_id, day)
    out = []
    for page in s3client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", [])]
    return sorted(out)


def protected_files(ledger_rows: list[dict], now: dt.datetime) -> set[str]:
    """Files the ledger says are wanted: of live claims, or exported without registration on purpose."""
    keep: set[str] = set()
    for r in ledger_rows:
        live = r["status"] == "claimed" and r["lease_expires_at"] is not None and r["lease_expires_at"] > now
        if live or r["status"] == "exported":
            keep.update(json.loads(r["files"] or "[]"))
    return keep


def find_orphans(files: list[str], registered: set[str], protected: set[str]) -> list[str]:
    return [f for f in files if f not in registered and f not in protected]


def remove(s3client, paths: list[str]) -> list[str]:
    removed = []
    for path in paths:
        bucket, key = path[len("s3://") :].split("/", 1)
        s3client.delete_object(Bucket=bucket, Key=key)
        removed.append(path)
    return removed


@dataclass
class SweepResult:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sweep(items: list[dict], run: RunInfo, env: Env) -> SweepResult:
    """Remove the orphans under the event team-days of ``items``; keep those of a day in progress."""
    out = SweepResult()
    by_team: dict[int, set[dt.date]] = {}
    for it in items:
        if it["kind"] == EVENTS:
            by_team.setdefault(int(it["team_id"]), set()).add(dt.date.fromisoformat(it["day"]))
    for team_id, days in sorted(by_team.items()):
        try:
            duckling = env.registry.get(team_id)
            access = access_for(duckling, run.run_id, env.aws_conn_id)
            s3 = access.boto3_client()
            with open_lake(duckling, access) as lake:
                if not lake.columns("events"):
                    continue
                registered = lake.registered_paths()
            for day in sorted(days):
                files = list_day_files(s3, duckling.bucket, team_id, day)
                ledger_rows = env.ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day, kind=EVENTS)
                now = utcnow()
                found = find_orphans(files, registered, protected_files(ledger_rows, now))
                live = any(
                    r["status"] == CLAIMED and r["lease_expires_at"] and r["lease_expires_at"] > now
                    for r in ledger_rows
                )
                if live:
                    out.kept += found
                else:
                    out.removed += remove(s3, found)
        except Exception as exc:  # the report must not hide the partitions' outcome
            out.warnings.append(f"team {team_id}: orphan check skipped: {describe(exc)}")
    return out
