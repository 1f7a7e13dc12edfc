"""What a run does: options (the DAG params, validated), the days, and the partitions (pure functions).

A partition item is a small dict ``{"team_id", "day", "kind", "label", "reason"}``; it travels through
XCom and maps the export and register tasks. Items are capped at ``max_partitions`` (<= Airflow's
max_map_length), so a run never fails on too many mapped items: the rest waits for the next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from backfill.duckling.errors import OptionsError
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


def label(team_id: int, day: str, kind: str) -> str:
    return f"team {team_id} · {day} · {kind}"


def item(team_id: int, day: dt.date, kind: str, reason: str) -> dict[str, Any]:
    return {
        "team_id": int(team_id),
        "day": day.isoformat(),
        "kind": kind,
        "reason": reason,
        "label": label(team_id, day.isoformat(), kind),
    }


def _date(value: Any, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise OptionsError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Options:
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

    @classmethod
    def from_params(cls, params: dict[str, Any] | None, *, today: dt.date | None = None) -> Options:
        """Validate run params (the Param schema already checked types; this checks meaning)."""
        p = dict(params or {})
        today = today or dt.datetime.now(dt.UTC).date()
        unknown = sorted(set(p) - set(cls.__dataclass_fields__))
        if unknown:
            raise OptionsError(f"unknown params {unknown}")
        team_ids = p.get("team_ids") or []
        if not isinstance(team_ids, list | tuple) or not all(
            isinstance(t, int) and not isinstance(t, bool) and t > 0 for t in team_ids
        ):
            raise OptionsError(f"team_ids must be a list of positive integers, got {team_ids!r}")
        start, end = _date(p.get("start_date"), "start_date"), _date(p.get("end_date"), "end_date")
        if start and not end:
            end = start
        # end_date alone: the daily DAG processes that one day; the full DAG walks history up to it
        if start and end and end < start:
            raise OptionsError(f"end_date {end} is before start_date {start}")
        if end:
            if end >= today:
                raise OptionsError(f"end_date {end} is not a finished UTC day (today is {today})")
        kinds = p.get("kinds", list(USER_KINDS))
        if not kinds or not isinstance(kinds, list | tuple) or any(k not in USER_KINDS for k in kinds):
            raise OptionsError(f"kinds must be a non-empty subset of {list(USER_KINDS)}, got {kinds!r}")
        max_partitions = p.get("max_partitions", DUCKLING.max_partitions)
        if (
            not isinstance(max_partitions, int)
            or isinstance(max_partitions, bool)
            or not (1 <= max_partitions <= DUCKLING.max_map_length)
        ):
            raise OptionsError(
                f"max_partitions must be an integer in 1..{DUCKLING.max_map_length}, got {max_partitions!r}"
            )
        flags = {}
        for name in (
            "dry_run",
            "skip_ducklake_registration",
            "skip_schema_validation",
            "cleanup_existing_partition_data",
            "create_tables_if_missing",
            "delete_tables",
        ):
            value = p.get(name, cls.__dataclass_fields__[name].default)
            if not isinstance(value, bool):
                raise OptionsError(f"{name} must be true or false, got {value!r}")
            flags[name] = value
        if flags["delete_tables"] and not team_ids:
            raise OptionsError(
                "delete_tables drops every duckling table: it needs team_ids naming the teams explicitly"
            )
        if flags["delete_tables"] and flags["skip_ducklake_registration"]:
            raise OptionsError("delete_tables with skip_ducklake_registration would leave empty tables")
        settings = check_clickhouse_settings(p.get("clickhouse_settings") or {})
        return cls(
            team_ids=tuple(team_ids),
            start_date=start,
            end_date=end,
            kinds=tuple(dict.fromkeys(kinds)),
            max_partitions=max_partitions,
            clickhouse_settings=settings,
            **flags,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["team_ids"] = list(self.team_ids)
        d["kinds"] = list(self.kinds)
        d["start_date"] = self.start_date.isoformat() if self.start_date else None
        d["end_date"] = self.end_date.isoformat() if self.end_date else None
        return d


def check_clickhouse_settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise OptionsError(f"clickhouse_settings must be an object, got {settings!r}")
    out = {}
    for key, value in settings.items():
        if key in REFUSED_SETTINGS:
            raise OptionsError(f"clickhouse_settings.{key} is refused: {REFUSED_SETTINGS[key]}")
        if key not in DUCKLING.clickhouse_settings_allowlist:
            raise OptionsError(
                f"clickhouse_settings.{key} is not allowed; allowed: "
                f"{', '.join(DUCKLING.clickhouse_settings_allowlist)}"
            )
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise OptionsError(f"clickhouse_settings.{key} must be a non-negative number, got {value!r}")
        out[key] = value
    return out


def params_schema() -> dict[str, Any]:
    """The Param objects of both DAGs (built here so defaults live in settings)."""
    from airflow.sdk import Param

    return {
        "team_ids": Param(
            [],
            type="array",
            items={"type": "integer", "minimum": 1},
            title="Team ids",
            description="Teams to process; empty = every team in duckling_registry.",
        ),
        "start_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Start date",
            description="First day (UTC) of a range to process instead of the run's day.",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="End date",
            description="Last day (UTC, inclusive) of the range.",
        ),
        "kinds": Param(
            list(USER_KINDS),
            type="array",
            items={"type": "string", "enum": list(USER_KINDS)},
            minItems=1,
            title="Kinds",
            description="What to export: events, persons.",
        ),
        "max_partitions": Param(
            DUCKLING.max_partitions,
            type="integer",
            minimum=1,
            maximum=DUCKLING.max_map_length,
            title="Maximum partitions per run",
            description="At most this many team-day partitions per run; the rest waits.",
        ),
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Plan only: no writes anywhere."
        ),
        "skip_ducklake_registration": Param(
            False,
            type="boolean",
            title="Skip DuckLake registration",
            description="Export to S3 only; record the files in the ledger.",
        ),
        "skip_schema_validation": Param(
            False,
            type="boolean",
            title="Skip schema validation",
            description="Skip the pre-flight check of the lake table columns.",
        ),
        "cleanup_existing_partition_data": Param(
            True,
            type="boolean",
            title="Replace the team-day's existing rows",
            description="Delete the team-day's rows in the lake in the same transaction as the new files. "
            "false appends (gives up the one-copy guarantee).",
        ),
        "create_tables_if_missing": Param(
            True, type="boolean", title="Create tables if missing", description="Create missing lake tables."
        ),
        "delete_tables": Param(
            False,
            type="boolean",
            title="Drop and recreate tables",
            description="Drop and recreate the lake tables of team_ids first (needs team_ids).",
        ),
        "clickhouse_settings": Param(
            {},
            type="object",
            title="ClickHouse settings",
            description='ClickHouse resource settings, e.g. {"max_threads": 4}; '
            "allowlist: " + ", ".join(DUCKLING.clickhouse_settings_allowlist),
        ),
    }


def days_of_run(options: Options, data_interval_start: dt.datetime | None, today: dt.date) -> list[dt.date]:
    """The days a daily run processes: the params' range, else the data interval's day, else yesterday."""
    if options.start_date or options.end_date:
        start = options.start_date or options.end_date
        n = ((options.end_date or start) - start).days + 1
        return [start + dt.timedelta(days=i) for i in range(n)]
    if data_interval_start is not None:
        return [data_interval_start.astimezone(dt.UTC).date()]
    return [today - dt.timedelta(days=1)]


Key = tuple[int, dt.date, str]


def _cap(candidates: Iterable[dict[str, Any]], live: set[Key], cap: int) -> tuple[list[dict], dict[str, Any]]:
    seen: set[Key] = set()
    items, in_progress, over = [], [], 0
    for c in candidates:
        k = (c["team_id"], dt.date.fromisoformat(c["day"]), c["kind"])
        if k in seen:
            continue
        seen.add(k)
        if k in live:
            in_progress.append(c["label"])
        elif len(items) < cap:
            items.append(c)
        else:
            over += 1
    return items, {"planned": len(items), "in_progress": in_progress, "deferred_over_cap": over}


def plan_daily(
    *,
    teams: list[int],
    days: list[dt.date],
    kinds: tuple[str, ...],
    failed: list[Key],
    late: list[tuple[int, dt.date]],
    live: set[Key],
    cap: int,
) -> tuple[list[dict], dict[str, Any]]:
    """Day(s) of the run for every team and kind, then failed partitions, then late-event days."""

    def gen():
        for d in days:
            for t in teams:
                for k in kinds:
                    yield item(t, d, k, "scheduled")
        for t, d, k in sorted(failed, key=lambda x: (x[1], x[0], x[2])):
            if t in teams and k in kinds:
                yield item(t, d, k, "retry failed")
        if "events" in kinds:
            for t, d in sorted(late, key=lambda x: (x[1], x[0])):
                if t in teams:
                    yield item(t, d, "events", "late events")

    return _cap(gen(), live, cap)


def plan_full(
    *,
    earliest: dict[int, dt.date | None],
    until: dt.date,
    since: dt.date | None,
    done: set[tuple[int, dt.date]],
    needs_full_persons: list[int],
    kinds: tuple[str, ...],
    live: set[Key],
    cap: int,
) -> tuple[list[dict], dict[str, Any]]:
    """Round-robin over teams, oldest pending day first; a team's first run adds its full persons export."""
    pending: dict[int, list[dt.date]] = {}
    for team, first in sorted(earliest.items()):
        if first is None:
            continue
        start = max(first, since) if since else first
        days = [start + dt.timedelta(days=i) for i in range((until - start).days + 1)]
        pending[team] = [d for d in days if (team, d) not in done and (team, d, "events") not in live]

    def gen():
        if "persons" in kinds:
            for team in sorted(needs_full_persons):
                yield item(team, until, "persons_full", "first full persons export")
        if "events" in kinds:
            depth = max((len(v) for v in pending.values()), default=0)
            for i in range(depth):
                for team in sorted(pending):
                    if i < len(pending[team]):
                        yield item(team, pending[team][i], "events", "history")

    items, summary = _cap(gen(), live, cap)
    summary["remaining_days"] = {t: len(v) for t, v in pending.items()}
    return items, summary
