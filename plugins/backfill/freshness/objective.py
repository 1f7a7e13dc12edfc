"""Freshness: how far behind each team is, and whether a family meets its objective.

Objective (per family, per team overridable): yesterday (UTC) is complete by ``deadline_utc`` today. A
day is complete when its coverage cell is ``done`` or ``no_traffic`` (``backfill.coverage``). The lag
of a team is the number of days between its newest complete day and yesterday (0 = fresh), at most the
check's window. Overrides come from the Airflow Variable ``backfill_freshness`` (JSON)::

    {"web_preagg": {"deadline_utc": "07:00", "teams": {"42": "09:30"}},
     "duckling":   {"teams": {"7": "12:00"}}}
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from backfill.appdb import AppDB
from backfill.coverage import DONE_STATE, NO_TRAFFIC, grid
from backfill.settings import OBSERVABILITY

COMPLETE = (DONE_STATE, NO_TRAFFIC)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_DAYS_NAMED = 10


class FreshnessConfigError(ValueError):
    """The freshness Variable is not valid JSON of the documented shape."""


def parse_deadline(value: str, where: str) -> dt.time:
    m = _HHMM.match(str(value).strip())
    if not m:
        raise FreshnessConfigError(f"{where}: deadline {value!r} is not a UTC time of day HH:MM")
    return dt.time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class Objectives:
    default: dt.time
    teams: dict[int, dt.time] = field(default_factory=dict)

    def deadline(self, team_id: int) -> dt.time:
        return self.teams.get(team_id, self.default)


def objectives(family: str, variable_get: Callable[[str], str | None] | None = None) -> Objectives:
    """The family's objective: the package default, overridden by the Variable when it is set."""
    default = parse_deadline(OBSERVABILITY.freshness_deadline_utc, "default")
    raw = variable_get(OBSERVABILITY.freshness_variable) if variable_get else None
    if not raw:
        return Objectives(default)
    name = f"Variable {OBSERVABILITY.freshness_variable}"
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise FreshnessConfigError(f"{name} is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise FreshnessConfigError(f"{name} must be a JSON object keyed by family")
    mine = config.get(family) or {}
    if not isinstance(mine, dict) or not isinstance(mine.get("teams", {}), dict):
        raise FreshnessConfigError(
            f'{name}: "{family}" must be {{"deadline_utc": "HH:MM", "teams": {{...}}}}'
        )
    if "deadline_utc" in mine:
        default = parse_deadline(mine["deadline_utc"], f"{name} {family}")
    teams = {}
    for team, value in mine.get("teams", {}).items():
        if not str(team).isdigit():
            raise FreshnessConfigError(f"{name} {family}: team id {team!r} is not an integer")
        teams[int(team)] = parse_deadline(value, f"{name} {family} team {team}")
    return Objectives(default, teams)


@dataclass(frozen=True)
class TeamFreshness:
    team_id: int
    newest_complete: dt.date | None
    lag_days: int
    incomplete_days: tuple[dt.date, ...]  # days of the window up to yesterday that are not complete
    deadline: dt.time
    overdue: bool  # the deadline has passed today and yesterday is not complete

    def describe(self) -> str:
        days = [d.isoformat() for d in self.incomplete_days[-MAX_DAYS_NAMED:]]
        more = len(self.incomplete_days) - len(days)
        named = ", ".join(days) + (f" (+{more} earlier)" if more > 0 else "")
        newest = self.newest_complete.isoformat() if self.newest_complete else "none in the window"
        return (
            f"team {self.team_id}: not complete {named}; newest complete day {newest}, "
            f"{self.lag_days} day(s) behind, due by {self.deadline:%H:%M} UTC"
        )


@dataclass(frozen=True)
class FreshnessCheck:
    family: str
    checked_at: dt.datetime
    teams: list[TeamFreshness]

    @property
    def lags(self) -> dict[int, int]:
        return {t.team_id: t.lag_days for t in self.teams}

    @property
    def overdue(self) -> list[TeamFreshness]:
        return [t for t in self.teams if t.overdue]

    def message(self) -> str:
        late = self.overdue
        head = (
            f"backfill freshness: {self.family}: {len(late)} team(s) missed the objective "
            f"(yesterday complete by the deadline), checked {self.checked_at:%Y-%m-%d %H:%M} UTC"
        )
        return "\n".join([head, *(t.describe() for t in late)])


def check(
    db: AppDB,
    family: str,
    team_ids: list[int],
    now: dt.datetime,
    goals: Objectives,
    window_days: int = OBSERVABILITY.freshness_window_days,
) -> FreshnessCheck:
    """Each team's newest complete day over the last ``window_days`` days, from the coverage grid."""
    now = now.astimezone(dt.UTC)
    yesterday = now.date() - dt.timedelta(days=1)
    start = yesterday - dt.timedelta(days=window_days - 1)
    cells = grid(db, family, start, yesterday, team_ids).cells if team_ids else []
    by_team: dict[int, list] = {}
    for c in cells:
        by_team.setdefault(c.team_id, []).append(c)
    out = []
    for team in sorted(team_ids):
        team_cells = sorted(by_team.get(team, []), key=lambda c: c.day)
        complete = [c.day for c in team_cells if c.state in COMPLETE]
        newest = max(complete) if complete else None
        lag = (yesterday - newest).days if newest else window_days
        incomplete = tuple(c.day for c in team_cells if c.state not in COMPLETE)
        deadline = goals.deadline(team)
        overdue = now.time() >= deadline and newest != yesterday
        out.append(TeamFreshness(team, newest, lag, incomplete, deadline, overdue))
    return FreshnessCheck(family, now, out)


class FreshnessMissed(RuntimeError):
    """A family missed its freshness objective; the message names the teams and days."""


def family_teams(db: AppDB, family: str) -> list[int]:
    """The teams a family keeps complete: web_preagg the enabled teams, duckling the registered ones."""
    if family == "web_preagg":
        return db.web_analytics_enabled_team_ids()
    from backfill.duckling.registry import Registry

    return Registry(db).team_ids()


def run_check(
    family: str, db: AppDB, variable_get: Callable[[str], str | None] | None, now: dt.datetime
) -> dict:
    """The scheduled check: gauges for every team, then a loud failure naming the overdue teams/days."""
    from backfill import metrics

    result = check(db, family, family_teams(db, family), now, objectives(family, variable_get))
    metrics.emit_freshness(family, result.lags)
    summary = {
        "family": family,
        "checked_at": result.checked_at.isoformat(),
        "lag_days": {str(t): lag for t, lag in result.lags.items()},
        "overdue": [t.team_id for t in result.overdue],
    }
    if result.overdue:
        raise FreshnessMissed(result.message())
    return summary
