"""web_preagg_backfill's run parameters (one definition each: form and validation) and its window."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from backfill import params as p
from backfill.settings import WEB_PREAGG
from backfill.web_preagg import TABLES

_D = WEB_PREAGG

PARAMS = p.ParamSet(
    (
        p.team_ids_param("Check only these teams (overrides every other team source)."),
        p.date_param(
            "end_date",
            "Window end (inclusive)",
            "Last day of the window. Default: the run's data interval start, else yesterday (UTC).",
        ),
        p.int_param(
            "lookback_days",
            _D.lookback_days,
            "Lookback days",
            "Complete days in the window, ending with the window end.",
            lo=1,
            hi=_D.max_lookback_days,
        ),
        p.int_param(
            "min_missing_partitions",
            _D.min_missing_partitions,
            "Minimum missing team-days",
            "Recompute missing team-days only when at least this many are missing.",
            lo=0,
        ),
        p.int_param(
            "max_partitions_per_run",
            _D.max_partitions_per_run,
            "Maximum team-days per run",
            "At most this many team-days per run, newest first.",
            lo=1,
            hi=_D.max_partitions_cap,
        ),
        p.subset_param(
            "tables", TABLES, "Tables", "Which pre-aggregated tables to check and recompute.", noun="table"
        ),
        p.bool_param(
            "include_top_teams",
            _D.include_top_teams,
            "Include top teams",
            f"Also check the top {_D.top_teams_by_pageviews} teams by median daily pageviews.",
        ),
        p.bool_param(
            "dedupe_events",
            _D.dedupe_events,
            "Deduplicate events",
            "Count one row per event uuid (FINAL). Off: read events as PostHog's daily job does.",
        ),
        p.bool_param("dry_run", False, "Dry run", "Detect, plan and report only; write nothing."),
        p.bool_param(
            "force", False, "Force", "Recompute every team-day with traffic in the window, even if present."
        ),
    )
)


def dag_params() -> dict[str, Any]:
    """The DAG's ``params``: Airflow ``Param`` objects built from PARAMS."""
    return PARAMS.dag_params()


@dataclass(frozen=True)
class RunParams:
    team_ids: tuple[int, ...]
    end_date: dt.date | None
    lookback_days: int
    min_missing_partitions: int
    max_partitions_per_run: int
    tables: tuple[str, ...]
    include_top_teams: bool
    dedupe_events: bool
    dry_run: bool
    force: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["team_ids"] = list(self.team_ids)
        out["tables"] = list(self.tables)
        out["end_date"] = self.end_date.isoformat() if self.end_date else None
        return out


def parse_params(raw: dict[str, Any] | None, *, today: dt.date | None = None) -> RunParams:
    """Check every param (the same rules as the form schema); ParamsError names the bad value."""
    values = PARAMS.validate(raw)
    p.finished_utc_day(values["end_date"], "end_date", today or p.utc_today())
    return RunParams(**values)


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
        end = (today or p.utc_today()) - dt.timedelta(days=1)
    return Window(end - dt.timedelta(days=params.lookback_days - 1), end)
