"""Run parameters: the trigger form's JSON schema (built from settings) and their validation in Python.

The form schema refuses bad values in the UI and at trigger time; ``validate_run_params`` repeats every
check in the first task, so a run that bypassed the form (API, ``dags test --conf``) still fails with a
clear message naming the bad value before anything is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from backfill.settings import WEB_PREAGG
from backfill.web_preagg import TABLES


def dag_params() -> dict[str, Any]:
    """The DAG's ``params``: Airflow ``Param`` objects whose defaults come from settings.WEB_PREAGG."""
    from airflow.sdk import Param

    d = WEB_PREAGG
    return {
        "team_ids": Param(
            [],
            type="array",
            items={"type": "integer", "minimum": 1},
            uniqueItems=True,
            title="Team ids",
            description="Check only these teams (overrides every other team source).",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Window end (inclusive)",
            description="Last day of the window. Default: the run's data interval start, else yesterday (UTC).",
        ),
        "lookback_days": Param(
            d.lookback_days,
            type="integer",
            minimum=1,
            maximum=d.max_lookback_days,
            title="Lookback days",
            description="Complete days in the window, ending with the window end.",
        ),
        "min_missing_partitions": Param(
            d.min_missing_partitions,
            type="integer",
            minimum=0,
            title="Minimum missing team-days",
            description="Recompute missing team-days only when at least this many are missing.",
        ),
        "max_partitions_per_run": Param(
            d.max_partitions_per_run,
            type="integer",
            minimum=1,
            maximum=d.max_partitions_cap,
            title="Maximum team-days per run",
            description="At most this many team-days per run, newest first.",
        ),
        "tables": Param(
            list(TABLES),
            type="array",
            items={"type": "string", "enum": list(TABLES)},
            minItems=1,
            uniqueItems=True,
            title="Tables",
            description="Which pre-aggregated tables to check and recompute.",
        ),
        "include_top_teams": Param(
            d.include_top_teams,
            type="boolean",
            title="Include top teams",
            description=f"Also check the top {d.top_teams_by_pageviews} teams by median daily pageviews.",
        ),
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Detect, plan and report only; write nothing."
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force",
            description="Recompute every team-day with traffic in the window, even if present.",
        ),
    }


@dataclass(frozen=True)
class RunParams:
    team_ids: tuple[int, ...]
    end_date: dt.date | None
    lookback_days: int
    min_missing_partitions: int
    max_partitions_per_run: int
    tables: tuple[str, ...]
    include_top_teams: bool
    dry_run: bool
    force: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["team_ids"] = list(self.team_ids)
        out["tables"] = list(self.tables)
        out["end_date"] = self.end_date.isoformat() if self.end_date else None
        return out


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_team_id(value: object, source: str) -> int:
    """One team id: a positive integer (or its decimal text). Anything else: ValueError naming it."""
    if _is_int(value) and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value.strip()) > 0:
        return int(value.strip())
    raise ValueError(f"{source}: {value!r} is not a valid team id (expected a positive integer)")


def parse_team_id_list(text: str, source: str) -> list[int]:
    """A comma-separated list like ``"1, 2,3"``; empty text means no ids."""
    tokens = [t.strip() for t in (text or "").split(",")]
    return sorted({parse_team_id(t, source) for t in tokens if t})


def _int_param(raw: dict, name: str, lo: int, hi: int | None) -> int:
    v = raw.get(name)
    if not _is_int(v) or v < lo or (hi is not None and v > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"param {name}={v!r} is invalid: expected an integer {bound}")
    return int(v)


def _bool_param(raw: dict, name: str) -> bool:
    v = raw.get(name, False)
    if not isinstance(v, bool):
        raise ValueError(f"param {name}={v!r} is invalid: expected true or false")
    return v


def validate_run_params(raw: dict[str, Any]) -> RunParams:
    """Check every param (the same rules as the form schema); raise ValueError naming the bad value."""
    d = WEB_PREAGG
    raw = {**_defaults(), **{k: raw[k] for k in (raw or {})}}
    team_ids = raw.get("team_ids") or []
    if not isinstance(team_ids, list | tuple):
        raise ValueError(f"param team_ids={team_ids!r} is invalid: expected a list of positive integers")
    ids = []
    for v in team_ids:
        if not (_is_int(v) and v > 0):
            raise ValueError(f"param team_ids: {v!r} is not a valid team id (expected a positive integer)")
        ids.append(int(v))
    end = raw.get("end_date")
    end_date = None
    if end not in (None, ""):
        try:
            end_date = (
                end
                if isinstance(end, dt.date) and not isinstance(end, dt.datetime)
                else dt.date.fromisoformat(str(end))
            )
        except ValueError:
            raise ValueError(f"param end_date={end!r} is invalid: expected a date YYYY-MM-DD") from None
    tables = raw.get("tables")
    if not isinstance(tables, list | tuple) or not tables:
        raise ValueError(f"param tables={tables!r} is invalid: expected a non-empty list of {list(TABLES)}")
    for t in tables:
        if t not in TABLES:
            raise ValueError(f"param tables: unknown table {t!r} (expected one of {list(TABLES)})")
    return RunParams(
        team_ids=tuple(sorted(set(ids))),
        end_date=end_date,
        lookback_days=_int_param(raw, "lookback_days", 1, d.max_lookback_days),
        min_missing_partitions=_int_param(raw, "min_missing_partitions", 0, None),
        max_partitions_per_run=_int_param(raw, "max_partitions_per_run", 1, d.max_partitions_cap),
        tables=tuple(t for t in TABLES if t in tables),
        include_top_teams=_bool_param(raw, "include_top_teams"),
        dry_run=_bool_param(raw, "dry_run"),
        force=_bool_param(raw, "force"),
    )


def _defaults() -> dict[str, Any]:
    d = WEB_PREAGG
    return {
        "team_ids": [],
        "end_date": None,
        "lookback_days": d.lookback_days,
        "min_missing_partitions": d.min_missing_partitions,
        "max_partitions_per_run": d.max_partitions_per_run,
        "tables": list(TABLES),
        "include_top_teams": d.include_top_teams,
        "dry_run": False,
        "force": False,
    }


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Window:
        return cls(dt.date.fromisoformat(d["start"]), dt.date.fromisoformat(d["end"]))


def resolve_window(
    params: RunParams, data_interval_start: dt.datetime | dt.date | None, today: dt.date | None = None
) -> Window:
    """The window of ``lookback_days`` complete days ending with: end_date param, else the data interval
    start's day (the run for [D, D+1) checks the window ending D), else yesterday (UTC)."""
    if params.end_date is not None:
        end = params.end_date
    elif data_interval_start is not None:
        if isinstance(data_interval_start, dt.datetime):
            ts = data_interval_start
            end = (ts.astimezone(dt.UTC) if ts.tzinfo else ts).date()
        else:
            end = data_interval_start
    else:
        end = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)
    return Window(end - dt.timedelta(days=params.lookback_days - 1), end)
