"""The exactly-once invariant, checked over the real engines (never the ledger's own word, never the
package's own referenced set).

For every (team, day) processed: the duckling's lake holds exactly ClickHouse's distinct uuids of that
UTC day (count and set), no uuid twice; every file the catalog references exists in S3; no Parquet file
under the team-days' S3 prefixes is outside the catalog's data files (read directly from its metadata
tables, any snapshot, or scheduled for deletion); and, where asked, the lake's persons and distinct ids
equal ClickHouse's latest state (minus the erased persons and ids).

``sabotage`` breaks the comparison on purpose (one lake uuid dropped, one referenced file taken as
missing, one unreferenced file added, one person changed), so a row can show that its check fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from backfill import sql as sqlt
from backfill.duckling import orphans
from backfill.duckling.credentials import access_for
from backfill.duckling.lake import open_lake
from backfill.duckling.layout import EVENTS, day_prefix
from backfill.duckling.run import RunInfo

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
# the catalog's files read directly: absolute paths as registered, any snapshot, or scheduled for deletion
CATALOG_FILES = """SELECT path FROM __ducklake_metadata_lake.ducklake_data_file WHERE NOT path_is_relative
UNION ALL SELECT path FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion WHERE NOT path_is_relative"""
LIVE_FILES = "SELECT data_file FROM ducklake_list_files('lake', 'events')"


@dataclass
class Figures:
    rows_lost: int = 0  # in ClickHouse, not in the lake
    duplicate_rows: int = 0  # in the lake twice, or in the lake and not in ClickHouse
    files_lost: int = 0  # referenced by the catalog, absent from S3
    orphans_left: int = 0  # in S3 under a processed day, not a file of the catalog
    persons_diff: int = 0  # persons / distinct ids differing from ClickHouse's latest state

    @property
    def holds(self) -> bool:
        return not any(asdict(self).values())

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values(), strict=True)))


def check(
    env,
    team_days: list[tuple[int, dt.date]],
    *,
    persons: bool = False,
    erased: tuple[str, ...] = (),
    sabotage: bool = False,
) -> Figures:
    """The invariant for these team-days (events), and the teams' persons when ``persons``."""
    out = Figures()
    by_team: dict[int, list[dt.date]] = {}
    for team, day in team_days:
        by_team.setdefault(team, []).append(day)
    for team, days in by_team.items():
        duckling = env.registry.get(team)
        s3 = access_for(duckling).boto3_client()
        listed = {d: set(orphans.list_day_files(s3, duckling.bucket, team, d)) for d in days}
        with open_lake(duckling, access_for(duckling)) as lake:
            has_events = bool(lake.columns("events"))
            live = [r[0] for r in lake.con.execute(LIVE_FILES).fetchall()] if has_events else []
            catalog = {r[0] for r in lake.con.execute(CATALOG_FILES).fetchall()} if has_events else set()
            lake_uuids = {}
            for day in days:
                start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
                window = {"t": team, "start": start, "end": start + dt.timedelta(days=1)}
                rows = lake.con.execute(LAKE_UUIDS, window).fetchall() if has_events else []
                lake_uuids[day] = [r[0] for r in rows]
            lake_people = _lake_persons(lake) if persons else None
        if sabotage:  # the invariant broken on purpose, once per kind of figure
            first = days[0]
            lake_uuids[first] = lake_uuids[first][1:] + lake_uuids[first][1:2]  # one lost, one twice
            live = [*live, f"s3://{duckling.bucket}/{day_prefix(EVENTS, team, first)}missing.parquet"]
            listed[first] = {
                *listed[first],
                f"s3://{duckling.bucket}/{day_prefix(EVENTS, team, first)}stray.parquet",
            }
            if lake_people is not None:
                lake_people = (lake_people[0] | {("00000000-0000-0000-0000-000000000000", 0)}, lake_people[1])
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
            out.orphans_left += len(listed[day] - catalog)
        if lake_people is not None:
            expected = _ch_persons(env, team, erased)
            out.persons_diff += len(lake_people[0] ^ expected[0]) + len(lake_people[1] ^ expected[1])
    return out


def can_fail(env, team_days: list[tuple[int, dt.date]], **kwargs) -> bool:
    """The row's check, run once with the invariant broken on purpose: every figure must catch it."""
    broken = check(env, team_days, sabotage=True, **kwargs)
    caught = broken.rows_lost and broken.duplicate_rows and broken.files_lost and broken.orphans_left
    return bool(caught and (broken.persons_diff or not kwargs.get("persons")))


def _lake_persons(lake) -> tuple[set, set]:
    if not lake.columns("persons"):
        return set(), set()
    people = {(r["id"], int(r["version"])) for r in lake.persons()}
    ids = {(r["distinct_id"], r["person_id"]) for r in lake.distinct_ids()}
    return people, ids


def _ch_persons(env, team: int, erased: tuple[str, ...]) -> tuple[set, set]:
    people = {
        (r["id"], int(r["version"]))
        for r in env.ch.query("duckling/latest_persons", {"team_id": team})
        if r["id"] not in erased
    }
    ids = {
        (r["distinct_id"], r["person_id"])
        for r in env.ch.query("duckling/latest_distinct_ids", {"team_id": team})
        if r["distinct_id"] not in erased and r["person_id"] not in erased
    }
    return people, ids


def sweep(env, team_days: list[tuple[int, dt.date]]) -> orphans.SweepResult:
    """What the next report does: the orphan sweep over these team-days."""
    items = [{"team_id": t, "day": d.isoformat(), "kind": "events"} for t, d in team_days]
    return orphans.sweep(items, RunInfo("duckling_backfill", "sweep"), env)
