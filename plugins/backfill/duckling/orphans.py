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

from backfill.duckling.export import EVENTS, day_prefix


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
