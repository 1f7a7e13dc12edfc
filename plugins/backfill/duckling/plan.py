"""What a run does: the days and the partitions, as pure functions over plain values.

A partition item is a small dict ``{"team_id", "day", "kind", "label", "reason"}``; it travels through
XCom and maps the export and register tasks. Items are capped at ``max_partitions`` (<= Airflow's
max_map_length), so a run never fails on too many mapped items: the rest waits for the next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backfill.duckling.params import RunParams


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


def days_of_run(options: RunParams, data_interval_start: dt.datetime | None, today: dt.date) -> list[dt.date]:
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
