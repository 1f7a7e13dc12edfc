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


PERSONS_KINDS = ("persons", "persons_full")


def plan_daily(
    *,
    teams: list[int],
    days: list[dt.date],
    kinds: tuple[str, ...],
    failed: list[Key],
    late: list[tuple[int, dt.date]],
    live: set[Key],
    cap: int,
    deferred: list[Key] = (),
) -> tuple[list[dict], dict[str, Any]]:
    """Fair under the cap: the run's day(s), partitions earlier runs deferred, failed ones (any age) and
    late-event days, served round-robin across teams, the team waiting longest first, one item per team
    per round; within a team its persons first, then its events oldest first. Under a cap smaller than
    teams x kinds the persons (which only the daily DAG keeps current) win; deferred events days are also
    walked by duckling_full_backfill.

    A team's persons days the run was asked for stay daily deltas; once earlier days are pending too
    (deferred, failed), they all collapse into one ``persons_full`` snapshot of the latest state, which
    makes the older days' rows ``superseded``. What does not fit is returned as ``deferred`` for the next run.
    """
    wanted = [(t, d, k, "scheduled") for d in days for t in teams for k in kinds]
    wanted += [(t, d, k, "deferred earlier") for t, d, k in deferred]
    wanted += [(t, d, k, "retry failed") for t, d, k in failed]
    wanted += [(t, d, "events", "late events") for t, d in late]
    persons: dict[int, dict[Key, str]] = {}
    events: dict[int, dict[Key, str]] = {}
    in_progress: list[str] = []
    for t, d, k, why in wanted:
        if (
            t not in teams
            or (k in PERSONS_KINDS and "persons" not in kinds)
            or (k == "events" and k not in kinds)
        ):
            continue
        if (t, d, k) in live:
            in_progress.append(label(t, d.isoformat(), k))
            continue
        (persons if k in PERSONS_KINDS else events).setdefault(t, {}).setdefault((t, d, k), why)
    queues: dict[int, list[tuple[dt.date, dict]]] = {}  # per team: (waiting since, item)
    collapsed: dict[int, list[Key]] = {}
    for t in teams:
        queue = []
        pending = persons.get(t, {})
        since = min((d for _, d, _ in pending), default=None)
        if all(k == "persons" and why == "scheduled" for (_, _, k), why in pending.items()):
            # the run's own day(s) only: a daily delta per day, as asked
            queue += [
                (d, item(t, d, k, why)) for (_, d, k), why in sorted(pending.items(), key=lambda x: x[0][1])
            ]
        elif pending:
            latest = max(d for _, d, _ in pending)
            queue.append(
                (since, item(t, latest, "persons_full", f"{len(pending)} pending persons days collapsed"))
            )
            collapsed[t] = [k for k in pending if k != (t, latest, "persons_full")]
        for (_, d, k), why in sorted(events.get(t, {}).items(), key=lambda x: x[0][1]):
            queue.append((d, item(t, d, k, why)))
        if queue:
            queues[t] = queue
    # each round serves one item per team, the team whose item has waited longest first
    items: list[dict] = []
    depth = max((len(q) for q in queues.values()), default=0)
    for i in range(depth):
        turn = sorted((q[i][0], t) for t, q in queues.items() if i < len(q))
        items += [queues[t][i][1] for _, t in turn]
    planned, over = items[:cap], items[cap:]
    superseded = [
        list(k) for it in planned if it["kind"] == "persons_full" for k in collapsed.get(it["team_id"], [])
    ]
    summary = {
        "planned": len(planned),
        "in_progress": in_progress,
        "deferred_over_cap": len(over),
        "deferred": [[i["team_id"], i["day"], i["kind"]] for i in over],
        "superseded": [[t, d.isoformat(), k] for t, d, k in superseded],
    }
    return planned, summary


def pending_days(
    start: dt.date, until: dt.date, done: Iterable[dt.date], skip: set[dt.date], limit: int
) -> list[dt.date]:
    """The first ``limit`` days of [start, until] that are neither in ``done`` (ascending, streamed) nor
    in ``skip``: memory bounded by ``limit``, whatever the length of the history."""
    out: list[dt.date] = []
    done_iter = iter(done)
    next_done = next(done_iter, None)
    day = start
    while day <= until and len(out) < limit:
        while next_done is not None and next_done < day:
            next_done = next(done_iter, None)
        if day != next_done and day not in skip:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def not_done_days(
    start: dt.date, until: dt.date, done, with_events: set[dt.date], skip: set[dt.date], limit: int
) -> tuple[list[dt.date], int, list[dt.date]]:
    """Walk [start, until] against the done days (ascending, streamed): (the first ``limit`` not-done
    days with events outside ``skip``, how many not-done days with events there are, the not-done days
    without events)."""
    pending: list[dt.date] = []
    empty: list[dt.date] = []
    left = 0
    done_iter = iter(done)
    next_done = next(done_iter, None)
    day = start
    while day <= until:
        while next_done is not None and next_done < day:
            next_done = next(done_iter, None)
        if day != next_done:
            if day not in with_events:
                empty.append(day)
            else:
                left += 1
                if len(pending) < limit and day not in skip:
                    pending.append(day)
        day += dt.timedelta(days=1)
    return pending, left, empty


def plan_full(
    *,
    pending: dict[int, list[dt.date]],
    remaining: dict[int, int],
    until: dt.date,
    needs_full_persons: list[int],
    kinds: tuple[str, ...],
    live: set[Key],
    cap: int,
) -> tuple[list[dict], dict[str, Any]]:
    """Round-robin over teams, oldest pending day first; a team's first run adds its full persons export.

    ``pending`` holds each team's oldest not-done days (at most ``cap`` of them: no run takes more),
    ``remaining`` each team's count of not-done days (for the summary)."""

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
    candidates = (len(needs_full_persons) if "persons" in kinds else 0) + (
        sum(remaining.values()) if "events" in kinds else 0
    )
    summary["deferred_over_cap"] = max(0, candidates - len(items) - len(summary["in_progress"]))
    summary["remaining_days"] = dict(remaining)
    return items, summary
