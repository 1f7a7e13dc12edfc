"""Orphans: event files under a team-day prefix that the catalog never referenced.

They are left by failed or killed attempts (export done, registration never committed). A file is an
orphan only when it is outside the referenced set (``referenced.py``: the catalog's files of any
snapshot and those scheduled for deletion, and the files the ledger protects). Only such files are
removed; what old snapshots reference belongs to DuckLake's own expire/cleanup (``backfill/upkeep``). Persons files are staging files
(merged row by row, recorded in the ledger) and are not scanned.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from backfill.duckling.credentials import access_for
from backfill.duckling.errors import describe
from backfill.duckling.lake import open_lake
from backfill.duckling.layout import EVENTS, day_prefix
from backfill.duckling.referenced import live, referenced
from backfill.duckling.run import FAMILY, Env, RunInfo
from backfill.ledger import utcnow


def list_day_files(s3client, bucket: str, team_id: int, day: dt.date) -> list[str]:
    prefix = day_prefix(EVENTS, team_id, day)
    out = []
    for page in s3client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", [])]
    return sorted(out)


def list_days_files(s3client, bucket: str, team_id: int, days: set[dt.date]) -> dict[dt.date, list[str]]:
    """The files under each of ``days``' prefixes, with one listing per month (not one per day)."""
    out: dict[dt.date, list[str]] = {day: [] for day in days}
    by_prefix = {day_prefix(EVENTS, team_id, day): day for day in days}
    for year, month in sorted({(d.year, d.month) for d in days}):
        month_prefix = day_prefix(EVENTS, team_id, dt.date(year, month, 1)).rsplit("day=", 1)[0]
        for page in s3client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=month_prefix):
            for o in page.get("Contents", []):
                day = by_prefix.get(o["Key"].rsplit("/", 1)[0] + "/")
                if day is not None:
                    out[day].append(f"s3://{bucket}/{o['Key']}")
    return {day: sorted(files) for day, files in out.items()}


def find_orphans(files: list[str], referenced_set: set[str]) -> list[str]:
    return [f for f in files if f not in referenced_set]


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
    """Remove the orphans under the event team-days of ``items``; keep those of a day in progress.

    The order of the reads is what makes it safe next to a concurrent registration: (1) list the files,
    (2) read the ledger, (3) read the catalog last. A file registered before (3) is in the catalog; a
    registration still running at (2) holds a live claim, and a day with a live claim is left alone.
    """
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
            listed = list_days_files(s3, duckling.bucket, team_id, days)
            if not any(listed.values()):
                continue
            rows = env.ledger.rows(FAMILY, team_ids=[team_id], start=min(days), end=max(days), kind=EVENTS)
            now = utcnow()
            with open_lake(duckling, access) as lake:
                catalog = lake.referenced_files() if lake.columns("events") else {}
            for day, files in sorted(listed.items()):
                day_rows = [r for r in rows if r["day"] == day]
                found = find_orphans(files, referenced(catalog, day_rows, now))
                if any(live(r, now) for r in day_rows):
                    out.kept += found
                else:
                    out.removed += remove(s3, found)
        except Exception as exc:  # the report must not hide the partitions' outcome
            out.warnings.append(f"team {team_id}: orphan check skipped: {describe(exc)}")
    return out
