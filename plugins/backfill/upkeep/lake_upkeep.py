"""Upkeep operations on an attached duckling lake (``duckling.lake.Lake``): DuckLake's own compaction,
events days rewritten as one file, erasure, snapshot expiry and cleanup of files no snapshot references.
``maintain.py`` decides when each runs; registration never needs these."""

from __future__ import annotations

import datetime as dt
import re

from backfill.duckling.lake import Lake, day_window, q, qs

_HIVE_DAY = re.compile(r"team_id=(\d+)/year=(\d+)/month=(\d+)/day=(\d+)/")


def merge_adjacent_files(lake: Lake, table: str) -> int:
    """DuckLake's compaction of one table (within each partition); returns the files it merged. Not
    for events: its files are registered in place under our own hive paths, which DuckLake 1.5.5's
    compactor refuses (an internal error), so events days are rewritten by ``compact_events``."""
    rows = lake.fetch(
        "CALL ducklake_merge_adjacent_files('lake', $table, schema => 'main')", {"table": table}
    )
    return sum(int(r.get("files_processed", 0) or 0) for r in rows)


def events_days_with_several_files(lake: Lake) -> list[tuple[dt.date, int]]:
    """(day, files) of this team's events partitions holding more than one live file."""
    per_day: dict[dt.date, int] = {}
    for r in lake.fetch(q("live_events_file_paths")):
        m = _HIVE_DAY.search(r["path"])
        if m and int(m.group(1)) == lake.team_id:
            day = dt.date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
            per_day[day] = per_day.get(day, 0) + 1
    return sorted((day, n) for day, n in per_day.items() if n > 1)


def _erased_keys(lake: Lake, keys: list[tuple[str, str, int, str]]) -> None:
    """The temp table the rewrites filter on (kind 'person' | 'distinct_id' | 'kept_id', key,
    version, the erased person it belongs to); empty = keep all."""
    lake.con.execute(
        "CREATE OR REPLACE TEMP TABLE erased_keys (kind VARCHAR, key VARCHAR, version BIGINT, person VARCHAR)"
    )
    if keys:
        lake.con.executemany("INSERT INTO erased_keys VALUES (?, ?, ?, ?)", keys)


def _rewrite_events_day(lake: Lake, day: dt.date) -> None:
    start, end = day_window(day)
    params = {"team_id": lake.team_id, "day_start": start, "day_end": end}
    for stmt in qs("rewrite_events_day"):
        lake.con.execute(stmt, {k: v for k, v in params.items() if f"${k}" in stmt})


def compact_events_day(lake: Lake, day: dt.date) -> None:
    """Rewrite one team-day as one file, in one transaction; its rows (and their count) unchanged."""
    _erased_keys(lake, [])
    lake.transaction(lambda: _rewrite_events_day(lake, day), f"team {lake.team_id} day {day} compact events")


def erase(lake: Lake, keys: list[tuple[str, str, int, str]]) -> tuple[int, list[dt.date]]:
    """Forget erased persons in every lake table, in ONE transaction that rewrites each events day
    holding their rows and each persons table without them: the files that held them leave the
    snapshot whole, and no live file keeps a row of theirs. ``keys``: (kind, key, version, person)
    with kind 'person' (erased person ids), 'distinct_id' (the ids that resolve to them now) and
    'kept_id' (ids a merge moved away from them: their current person's, never erased). Their
    plain-text tombstones are replaced by SHA-256 digests that keep later merges and registrations
    from writing them back. Returns (persons the lake still held something of, events days
    rewritten); (0, []) when the erasure is already complete (a rescan: nothing is written). The
    old files stay referenced by older snapshots until ``expire_snapshots`` + ``cleanup_old_files``
    (maintenance does both right after)."""
    if not any(kind != "kept_id" for kind, *_ in keys):
        return 0, []
    lake.ensure_tables("persons", create_if_missing=True, validate=False)
    _erased_keys(lake, keys)
    params = {"team_id": lake.team_id}
    pending = {r["person"] for r in lake.fetch(q("erasure_pending_persons"), params)}
    days = []
    if lake.columns("events"):
        pending |= {r["person"] for r in lake.fetch(q("erasure_pending_events"), params)}
        days = [r["day"] for r in lake.fetch(q("erased_events_days"), params)] if pending else []
    if pending:

        def body():
            for day in days:
                _rewrite_events_day(lake, day)
            for table in ("persons", "person_distinct_ids", "person_deletions"):
                for stmt in qs(f"rewrite_{table}"):
                    lake.con.execute(stmt, params if "$team_id" in stmt else {})

        lake.transaction(body, f"team {lake.team_id} erase {len(pending)} person(s)")
    lake.con.execute("DROP TABLE erased_keys")
    return len(pending), days


def expire_snapshots(lake: Lake, older_than: dt.datetime, *, dry_run: bool = False) -> list[int]:
    """Expire the snapshots older than ``older_than`` (the current snapshot is never expired)."""
    rows = lake.fetch(
        "CALL ducklake_expire_snapshots('lake', dry_run => $dry_run, older_than => $older_than)",
        {"dry_run": dry_run, "older_than": older_than},
    )
    return [int(r["snapshot_id"]) for r in rows]


def cleanup_old_files(lake: Lake, older_than: dt.datetime, *, dry_run: bool) -> list[str]:
    """Delete (or list) the files scheduled for deletion before ``older_than``: files no snapshot
    references any more."""
    rows = lake.fetch(
        "CALL ducklake_cleanup_old_files('lake', dry_run => $dry_run, older_than => $older_than)",
        {"dry_run": dry_run, "older_than": older_than},
    )
    return [r["path"] for r in rows]
