"""The duckling DAGs' run parameters (one definition each: form and validation), as ``RunParams``."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from backfill import params as p
from backfill.params import ParamsError
from backfill.settings import DUCKLING

USER_KINDS = ("events", "persons")
# Settings that would break a guarantee (UTC day windows, never overwriting an S3 key).
REFUSED_SETTINGS = {
    "session_timezone": "the day window must stay UTC",
    "timezone": "the day window must stay UTC",
    "s3_truncate_on_insert": "an export must never overwrite an existing S3 key",
    "s3_create_new_file_on_insert": "each export writes exactly the file it records",
    "s3_skip_empty_files": "the row count of each file is recorded",
    "output_format_parquet_string_as_string": "the lake columns are VARCHAR",
    "output_format_parquet_datetime_as_uint32": "timestamps must be TIMESTAMPTZ",
}


def check_clickhouse_settings(settings: Any, name: str = "clickhouse_settings") -> dict[str, Any]:
    """Resource settings from the allowlist only; anything that could break a guarantee is refused."""
    if not isinstance(settings, dict):
        raise ParamsError(f"param {name}={settings!r} is invalid: expected an object")
    out = {}
    for key, value in settings.items():
        if key in REFUSED_SETTINGS:
            raise ParamsError(f"{name}.{key} is refused: {REFUSED_SETTINGS[key]}")
        if key not in DUCKLING.clickhouse_settings_allowlist:
            raise ParamsError(
                f"{name}.{key} is not allowed; allowed: {', '.join(DUCKLING.clickhouse_settings_allowlist)}"
            )
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ParamsError(f"{name}.{key} must be a non-negative number, got {value!r}")
        out[key] = value
    return out


PARAMS = p.ParamSet(
    (
        p.team_ids_param("Teams to process; empty = every team in duckling_registry."),
        p.date_param(
            "start_date", "Start date", "First day (UTC) of a range to process instead of the run's day."
        ),
        p.date_param("end_date", "End date", "Last day (UTC, inclusive) of the range."),
        p.subset_param("kinds", USER_KINDS, "Kinds", "What to export: events, persons.", noun="kind"),
        p.int_param(
            "max_partitions",
            DUCKLING.max_partitions,
            "Maximum partitions per run",
            "At most this many team-day partitions per run; the rest waits.",
            lo=1,
            hi=DUCKLING.max_map_length,
        ),
        p.bool_param("dry_run", False, "Dry run", "Plan only: no writes anywhere."),
        p.bool_param(
            "skip_ducklake_registration",
            False,
            "Skip DuckLake registration",
            "Export to S3 only; record the files in the ledger.",
        ),
        p.bool_param(
            "skip_schema_validation",
            False,
            "Skip schema validation",
            "Skip the pre-flight check of the lake table columns.",
        ),
        p.bool_param(
            "cleanup_existing_partition_data",
            True,
            "Replace the team-day's existing rows",
            "Delete the team-day's rows in the lake in the same transaction as the new files. "
            "false appends (gives up the one-copy guarantee).",
        ),
        p.bool_param(
            "create_tables_if_missing", True, "Create tables if missing", "Create missing lake tables."
        ),
        p.bool_param(
            "delete_tables",
            False,
            "Drop and recreate tables",
            "Drop and recreate the lake tables of team_ids first (needs team_ids).",
        ),
        p.object_param(
            "clickhouse_settings",
            "ClickHouse settings",
            'ClickHouse resource settings, e.g. {"max_threads": 4}; allowlist: '
            + ", ".join(DUCKLING.clickhouse_settings_allowlist),
            check_clickhouse_settings,
        ),
    )
)


def dag_params() -> dict[str, Any]:
    """The Param objects of both duckling DAGs, built from PARAMS."""
    return PARAMS.dag_params()


@dataclass(frozen=True)
class RunParams:
    team_ids: tuple[int, ...] = ()
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    kinds: tuple[str, ...] = USER_KINDS
    max_partitions: int = DUCKLING.max_partitions
    dry_run: bool = False
    skip_ducklake_registration: bool = False
    skip_schema_validation: bool = False
    cleanup_existing_partition_data: bool = True
    create_tables_if_missing: bool = True
    delete_tables: bool = False
    clickhouse_settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["team_ids"] = list(self.team_ids)
        d["kinds"] = list(self.kinds)
        d["start_date"] = self.start_date.isoformat() if self.start_date else None
        d["end_date"] = self.end_date.isoformat() if self.end_date else None
        return d


def parse_params(raw: dict[str, Any] | None, *, today: dt.date | None = None) -> RunParams:
    """Check every param (types as the form does, then meaning); ParamsError names the bad value."""
    v = PARAMS.validate(raw)
    today = today or p.utc_today()
    start, end = v["start_date"], v["end_date"]
    if start and not end:
        end = v["end_date"] = start
    # end_date alone: the daily DAG processes that one day; the full DAG walks history up to it
    if start and end and end < start:
        raise ParamsError(f"param end_date {end} is before start_date {start}")
    p.finished_utc_day(end, "end_date", today)
    if v["delete_tables"] and not v["team_ids"]:
        raise ParamsError(
            "param delete_tables drops every duckling table: it needs team_ids naming the teams"
        )
    if v["delete_tables"] and v["skip_ducklake_registration"]:
        raise ParamsError("param delete_tables with skip_ducklake_registration would leave empty tables")
    return RunParams(**v)
