"""The duckling's lake tables and the pre-flight check of their columns.

Tables (DuckLake, schema ``main`` of the attached catalog ``lake``):

events               one row per event uuid; PARTITIONED BY (team_id, year(timestamp), month(timestamp),
                     day(timestamp)) -- the same four keys as the export path
                     backfill/events/team_id=T/year=YYYY/month=MM/day=DD/, so registration of those
                     files is accepted (a year/month/day-only partitioning rejects the team_id= folder).
                     Files are registered in place with ducklake_add_data_files (never copied).
persons              the latest live state of each person (highest version, not deleted).
person_distinct_ids  the latest live distinct_id -> person mapping.
person_deletions     tombstones (entity 'person' | 'distinct_id', key, version): a deleted person or
                     distinct id is never resurrected by a lower version applied later (out of order).
The persons tables are merged row by row inside a DuckLake transaction (the version guard needs row
filtering, which add_data_files cannot do); DuckLake writes those rows itself under DATA_PATH.
"""

from __future__ import annotations

from dataclasses import dataclass

TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"


@dataclass(frozen=True)
class LakeTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type as duckdb_columns() reports it)
    key_columns: tuple[str, ...]
    partition_by: str | None = None

    def create_sql(self) -> str:
        cols = ", ".join(f'"{n}" {t}' for n, t in self.columns)
        return f"CREATE TABLE IF NOT EXISTS lake.main.{self.name} ({cols})"

    def partition_sql(self) -> str | None:
        return (
            f"ALTER TABLE lake.main.{self.name} SET PARTITIONED BY ({self.partition_by})"
            if self.partition_by
            else None
        )


EVENTS = LakeTable(
    "events",
    (
        ("uuid", "UUID"),
        ("event", "VARCHAR"),
        ("properties", "VARCHAR"),
        ("timestamp", TIMESTAMPTZ),
        ("team_id", "BIGINT"),
        ("distinct_id", "VARCHAR"),
        ("person_id", "UUID"),
        ("session_id", "VARCHAR"),
        ("elements_chain", "VARCHAR"),
        ("created_at", TIMESTAMPTZ),
    ),
    key_columns=("team_id", "timestamp", "uuid"),
    partition_by="team_id, year(timestamp), month(timestamp), day(timestamp)",
)
PERSONS = LakeTable(
    "persons",
    (
        ("team_id", "BIGINT"),
        ("id", "UUID"),
        ("created_at", TIMESTAMPTZ),
        ("properties", "VARCHAR"),
        ("is_identified", "BOOLEAN"),
        ("version", "BIGINT"),
    ),
    key_columns=("team_id", "id", "version"),
)
PERSON_DISTINCT_IDS = LakeTable(
    "person_distinct_ids",
    (("team_id", "BIGINT"), ("distinct_id", "VARCHAR"), ("person_id", "UUID"), ("version", "BIGINT")),
    key_columns=("team_id", "distinct_id", "person_id", "version"),
)
PERSON_DELETIONS = LakeTable(
    "person_deletions",
    (("team_id", "BIGINT"), ("entity", "VARCHAR"), ("key", "VARCHAR"), ("version", "BIGINT")),
    key_columns=("team_id", "entity", "key", "version"),
)
TABLES = {t.name: t for t in (EVENTS, PERSONS, PERSON_DISTINCT_IDS, PERSON_DELETIONS)}
TABLES_FOR_KIND = {
    "events": (EVENTS,),
    "persons": (PERSONS, PERSON_DISTINCT_IDS, PERSON_DELETIONS),
    "persons_full": (PERSONS, PERSON_DISTINCT_IDS, PERSON_DELETIONS),
}


def check_columns(table: LakeTable, actual: dict[str, str]) -> list[str]:
    """Problems of an existing lake table against the expected columns (empty list: usable).

    Missing non-key columns are tolerated (the files' extra columns are ignored: allow_missing /
    ignore_extra_columns); extra columns in the lake table are tolerated (NULL for these rows).
    A missing key column, or any column of another type, is a problem.
    """
    problems = []
    for name, typ in table.columns:
        if name not in actual:
            if name in table.key_columns:
                problems.append(f"key column {name} is missing (expected {typ})")
        elif actual[name].upper() != typ:
            problems.append(f"column {name} has type {actual[name]}, expected {typ}")
    return problems
