"""The exactly-once invariant, checked over the real engines (never the ledger's own word).

For every (team, day) processed: the duckling's lake holds exactly ClickHouse's distinct uuids of that
UTC day (count and set), no uuid twice; every file the catalog references exists in S3; and after a
sweep, no file is left that no snapshot references and no ledger row protects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from backfill import sql as sqlt
from backfill.duckling import orphans
from backfill.duckling.credentials import access_for
from backfill.duckling.lake import open_lake
from backfill.duckling.referenced import referenced
from backfill.duckling.run import RunInfo
from backfill.ledger import utcnow

CH_UUIDS = sqlt.Template(
    "tests/ch_day_uuids",
    "SELECT toString(uuid) AS u FROM events WHERE team_id = {team_id:Int64} "
    "AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC') "
    "GROUP BY uuid",
)
LAKE_UUIDS = (
    "SELECT CAST(uuid AS VARCHAR) AS u FROM lake.main.events WHERE team_id = $t "
    'AND "timestamp" >= $start AND "timestamp" < $end'
)


@dataclass
class Figures:
    rows_lost: int = 0  # in ClickHouse, not in the lake
    duplicate_rows: int = 0  # in the lake twice, or in the lake and not in ClickHouse
    files_lost: int = 0  # referenced by the catalog, absent from S3
    orphans_left: int = 0  # in S3, referenced by no snapshot, protected by no ledger row

    @property
    def holds(self) -> bool:
        return not any(asdict(self).values())

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values(), strict=True)))


def check(env, team_days: list[tuple[int, dt.date]]) -> Figures:
    """The invariant for these team-days (events)."""
    out = Figures()
    by_team: dict[int, list[dt.date]] = {}
    for team, day in team_days:
        by_team.setdefault(team, []).append(day)
    for team, days in by_team.items():
        duckling = env.registry.get(team)
        access = access_for(duckling)
        s3 = access.boto3_client()
        with open_lake(duckling, access) as lake:
            has_events = bool(lake.columns("events"))
            live = (
                [
                    r[0]
                    for r in lake.con.execute(
                        "SELECT data_file FROM ducklake_list_files('lake', 'events')"
                    ).fetchall()
                ]
                if has_events
                else []
            )
            registered = set(lake.referenced_files()) if has_events else set()
            lake_uuids = {}
            for day in days:
                start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
                rows = (
                    lake.con.execute(
                        LAKE_UUIDS, {"t": team, "start": start, "end": start + dt.timedelta(days=1)}
                    ).fetchall()
                    if has_events
                    else []
                )
                lake_uuids[day] = [r[0] for r in rows]
        for day in days:
            source = {r["u"] for r in env.ch.query(CH_UUIDS, {"team_id": team, "day": day})}
            in_lake = lake_uuids[day]
            out.rows_lost += len(source - set(in_lake))
            out.duplicate_rows += (len(in_lake) - len(set(in_lake))) + len(set(in_lake) - source)
        for path in live:
            bucket, key = path[len("s3://") :].split("/", 1)
            try:
                s3.head_object(Bucket=bucket, Key=key)
            except Exception:
                out.files_lost += 1
        for day in days:
            rows = env.ledger.rows("duckling", team_ids=[team], start=day, end=day, kind="events")
            files = orphans.list_day_files(s3, duckling.bucket, team, day)
            out.orphans_left += len(orphans.find_orphans(files, referenced(registered, rows, utcnow())))
    return out


def sweep(env, team_days: list[tuple[int, dt.date]]) -> orphans.SweepResult:
    """What the next report does: the orphan sweep over these team-days."""
    items = [{"team_id": t, "day": d.isoformat(), "kind": "events"} for t, d in team_days]
    return orphans.sweep(items, RunInfo("duckling_backfill", "sweep"), env)
