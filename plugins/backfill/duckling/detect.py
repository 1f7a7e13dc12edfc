"""The first task of each duckling DAG: validate the params, read registry, ledger and ClickHouse, and
plan the run (``detect_daily``, ``detect_full``). Bad params fail here, before anything is written.

Returns ``{"items": [...], "summary": {...}}``: the items map the export and register tasks, the
summary goes to the report task as it is.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from backfill.clickhouse import QueryTag
from backfill.coverage import HISTORY_KIND, Observation
from backfill.duckling.credentials import access_for
from backfill.duckling.lake import open_lake
from backfill.duckling.layout import EVENTS
from backfill.duckling.params import RunParams, parse_params
from backfill.duckling.plan import days_of_run, not_done_days, plan_daily, plan_full
from backfill.duckling.run import FAMILY, Env, RunInfo
from backfill.ledger import DEFERRED, DONE, EXPORTED, FAILED
from backfill.params import utc_today
from backfill.settings import DUCKLING

log = logging.getLogger(__name__)


def _start(params: dict[str, Any] | RunParams, run: RunInfo, env: Env, today: dt.date):
    options = params if isinstance(params, RunParams) else parse_params(params, today=today)
    teams = list(options.team_ids) or env.registry.team_ids()
    if options.delete_tables and not options.dry_run:
        reset_ducklings(list(options.team_ids), run, env)
    return options, teams, env.ledger.live_claims(FAMILY)


def _finish(mode: str, options: RunParams, teams: list[int], items: list[dict], summary: dict) -> dict:
    summary.update(mode=mode, teams=teams, options=options.to_dict(), items=items)
    if options.dry_run:
        summary["would_do"] = [i["label"] for i in items]
        items = []
    log.info(
        "duckling %s plan: %d partitions, %d in progress, %d deferred over the cap",
        mode,
        len(items),
        len(summary["in_progress"]),
        summary["deferred_over_cap"],
    )
    return {"items": items, "summary": summary}


def detect_daily(
    params: dict[str, Any] | RunParams, run: RunInfo, env: Env | None = None, today: dt.date | None = None
) -> dict[str, Any]:
    """The run's day(s) for every team, what earlier runs deferred or failed (any age), late-event days;
    fair across teams under the cap (plan_daily). What does not fit is recorded as deferred."""
    today = today or utc_today()
    env = env or Env.from_connections()
    options, teams, live = _start(params, run, env, today)
    days = days_of_run(options, run.data_interval_start, today)
    waiting = env.ledger.rows(
        FAMILY, team_ids=teams, end=today - dt.timedelta(days=1), status=(FAILED, DEFERRED)
    )
    keys = {
        s: [(int(r["team_id"]), r["day"], r["kind"]) for r in waiting if r["status"] == s]
        for s in (FAILED, DEFERRED)
    }
    late = []
    if "events" in options.kinds and teams:
        counts = observe_events(teams, max(days), env)
        env.coverage.record(FAMILY, counts_as_observations(teams, counts, max(days)),
                            dag_id=run.dag_id, run_id=run.run_id)  # fmt: skip
        late = late_event_days(teams, max(days), counts, env)
    items, summary = plan_daily(
        teams=teams,
        days=days,
        kinds=options.kinds,
        failed=keys[FAILED],
        deferred=keys[DEFERRED],
        late=late,
        live=live,
        cap=options.max_partitions,
    )
    if not options.dry_run:
        parse = [(t, dt.date.fromisoformat(d), k) for t, d, k in summary["deferred"]]
        env.ledger.defer(FAMILY, parse)
        by = f"a full persons snapshot in run {run.run_id}"
        env.ledger.supersede(
            FAMILY, [(t, dt.date.fromisoformat(d), k) for t, d, k in summary["superseded"]], by
        )
    summary["days"] = [d.isoformat() for d in days]
    return _finish("daily", options, teams, items, summary)


def detect_full(
    params: dict[str, Any] | RunParams, run: RunInfo, env: Env | None = None, today: dt.date | None = None
) -> dict[str, Any]:
    """Each team's history from its first event day, round-robin, oldest first, under the cap."""
    today = today or utc_today()
    env = env or Env.from_connections()
    options, teams, live = _start(params, run, env, today)
    earliest = earliest_days(teams, env, cache=not options.dry_run)
    until = options.end_date or today - dt.timedelta(days=1)
    done_status = (DONE, EXPORTED) if options.skip_ducklake_registration else (DONE,)
    pending, remaining = history_pending(env, earliest, options.start_date, until, done_status, live,
                                         options.max_partitions, mark_empty=not options.dry_run)  # fmt: skip
    persons_done = env.state.full_persons_done(teams)
    needs = [t for t in teams if earliest.get(t) is not None and t not in persons_done]
    items, summary = plan_full(
        pending=pending,
        remaining=remaining,
        until=until,
        needs_full_persons=needs,
        kinds=options.kinds,
        live=live,
        cap=options.max_partitions,
    )
    summary["earliest"] = {t: (d.isoformat() if d else None) for t, d in earliest.items()}
    summary["remaining_days"] = {str(t): n for t, n in summary["remaining_days"].items()}
    return _finish("full", options, teams, items, summary)


def history_pending(
    env: Env,
    earliest: dict[int, dt.date | None],
    since: dt.date | None,
    until: dt.date,
    done_status: tuple[str, ...],
    live: set,
    cap: int,
    *,
    mark_empty: bool = True,
) -> tuple[dict[int, list[dt.date]], dict[int, int]]:
    """Per team: its oldest not-done history days WITH EVENTS (at most ``cap``) and how many remain. One
    grouped ledger count for all teams; a team whose history is complete costs nothing more. For the
    incomplete ones, one grouped ClickHouse query gives the days that hold events: the not-done days
    without any are marked done in bulk (``mark_empty``; 0 rows, no file, no task), so the cap is spent
    on real days however early the first timestamp. Memory: the event days, never the done days."""
    marks = env.ledger.watermarks(FAMILY, HISTORY, [t for t, d in earliest.items() if d is not None])
    windows = {t: (max(d, since) if since else d) for t, d in earliest.items() if d is not None}
    # days through a team's coverage watermark are done, whether or not their ledger rows were retired
    windows = {
        t: max(start, marks[t] + dt.timedelta(days=1)) if t in marks else start
        for t, start in windows.items()
    }
    windows = {t: start for t, start in windows.items() if start <= until}
    if not windows:
        return {}, {}
    counts = env.ledger.day_counts(FAMILY, list(windows), kind=EVENTS, status=done_status,
                                   start=min(windows.values()), end=until)  # fmt: skip
    incomplete = {}
    for team, start in sorted(windows.items()):
        done, first_done = counts.get(team, (0, None))
        if first_done is not None and first_done < start:  # rows before this team's own start: recount
            done = sum(1 for _ in env.ledger.iter_days(FAMILY, team, kind=EVENTS, status=done_status,
                                                       start=start, end=until))  # fmt: skip
        if (until - start).days + 1 - done > 0:
            incomplete[team] = start
    if not incomplete:
        return {}, {}
    with_events = history_event_days(env, incomplete, until)
    pending, remaining = {}, {}
    for team, start in incomplete.items():
        skip = {d for t, d, k in live if t == team and k == EVENTS}
        stream = env.ledger.iter_days(FAMILY, team, kind=EVENTS, status=done_status, start=start, end=until)
        days, left, empty = not_done_days(start, until, stream, with_events.get(team, set()), skip, cap)
        if mark_empty and empty:
            env.ledger.mark_empty_done(FAMILY, EVENTS, team, empty)
        remaining[team] = left
        if days:
            pending[team] = days
    return pending, remaining


def history_event_days(env: Env, starts: dict[int, dt.date], until: dt.date) -> dict[int, set[dt.date]]:
    rows = env.ch.query(
        "duckling/event_days",
        {"team_ids": sorted(starts), "start_day": min(starts.values()), "end_day": until},
        tag=QueryTag(dag_id=DUCKLING.full_dag_id, what="history event days"),
    )
    out: dict[int, set[dt.date]] = {}
    for r in rows:
        team = int(r["team_id"])
        if r["day"] >= starts[team]:
            out.setdefault(team, set()).add(r["day"])
    return out


HISTORY = HISTORY_KIND  # ledger kind of the per-team coverage watermark (its row's day)


def advance_history_mark(env: Env, team_id: int, first_day: dt.date, until: dt.date) -> dt.date | None:
    """Move the team's coverage watermark to the last day D such that every events day from its first
    event day through D is done; streamed from the current mark (the ledger's days, no ClickHouse).
    Returns the mark (None while the first day itself is not done)."""
    mark = env.ledger.watermarks(FAMILY, HISTORY, [team_id]).get(team_id)
    day = max(first_day, mark + dt.timedelta(days=1)) if mark else first_day
    new = mark
    for done in env.ledger.iter_days(FAMILY, team_id, kind=EVENTS, status=(DONE,), start=day, end=until):
        if done != day:
            break
        new, day = day, day + dt.timedelta(days=1)
    if new != mark and new is not None:
        env.ledger.set_watermark(FAMILY, HISTORY, team_id, new)
    return new


def settle_window(day: dt.date) -> tuple[dt.date, dt.date]:
    """The days before ``day`` whose counts may still change (late events)."""
    return day - dt.timedelta(days=DUCKLING.settle_days), day - dt.timedelta(days=1)


def observe_events(teams: list[int], day: dt.date, env: Env) -> dict[tuple[int, dt.date], int]:
    """ClickHouse's distinct-uuid counts per (team, day) over the settle window and ``day`` itself: one
    query, used for the late-event check and recorded as the day's coverage."""
    rows = env.ch.query(
        "duckling/count_events_days",
        {"team_ids": teams, "start_day": settle_window(day)[0], "end_day": day},
        tag=QueryTag(dag_id=DUCKLING.daily_dag_id, what="settle check"),
    )
    return {(int(r["team_id"]), r["day"]): int(r["n"]) for r in rows}


def counts_as_observations(
    teams: list[int], counts: dict[tuple[int, dt.date], int], day: dt.date
) -> list[Observation]:
    start = settle_window(day)[0]
    days = [start + dt.timedelta(days=i) for i in range((day - start).days + 1)]
    return [Observation(t, d, counts.get((t, d), 0)) for t in teams for d in days]


def late_event_days(
    teams: list[int], day: dt.date, counts: dict[tuple[int, dt.date], int], env: Env
) -> list[tuple[int, dt.date]]:
    """Days in the settle window before ``day`` whose ClickHouse count differs from the exported count."""
    start, end = settle_window(day)
    late = []
    for r in env.ledger.rows(FAMILY, team_ids=teams, start=start, end=end, kind=EVENTS, status=DONE):
        k = (int(r["team_id"]), r["day"])
        if r["source_count"] is not None and counts.get(k, 0) != int(r["source_count"]):
            late.append(k)
    return late


def earliest_day_floor() -> dt.date:
    return dt.date.fromisoformat(os.environ.get("DUCKLING_EARLIEST_DAY_FLOOR") or DUCKLING.earliest_day_floor)


def clamp_to_floor(earliest: dict[int, dt.date | None], floor: dt.date) -> dict[int, dt.date | None]:
    """No walk starts before ``floor``; the teams that had to be clamped are logged."""
    clamped = {t: d for t, d in earliest.items() if d is not None and d < floor}
    if clamped:
        log.warning(
            "earliest event day before the floor %s (clock-skewed events?); walking from the floor for: %s",
            floor,
            ", ".join(f"team {t} ({d})" for t, d in sorted(clamped.items())),
        )
    return {t: (max(d, floor) if d is not None else None) for t, d in earliest.items()}


def earliest_days(teams: list[int], env: Env, *, cache: bool = True) -> dict[int, dt.date | None]:
    """Each team's first day with events (pre-1970 timestamps ignored), clamped to the floor: cached in
    duckling_team_state as ClickHouse said it, asked of ClickHouse once."""
    known = env.state.earliest_days(teams)
    missing = [x for x in teams if x not in known]
    if missing:
        rows = env.ch.query(
            "duckling/earliest_day",
            {"team_ids": missing},
            tag=QueryTag(dag_id=DUCKLING.full_dag_id, what="earliest day"),
        )
        for r in rows:
            known[int(r["team_id"])] = r["earliest_day"]
            if cache:
                env.state.set(int(r["team_id"]), earliest_day=r["earliest_day"])
    return clamp_to_floor({x: known.get(x) for x in teams}, earliest_day_floor())


def reset_ducklings(team_ids: list[int], run: RunInfo, env: Env) -> None:
    """delete_tables: drop and recreate the teams' lake tables, forget their ledger rows and state."""
    for team_id in team_ids:
        duckling = env.registry.get(team_id)
        with open_lake(duckling, access_for(duckling, run.run_id, env.aws_conn_id)) as lake:
            lake.drop_tables()
            for kind in ("events", "persons"):
                lake.ensure_tables(kind, create_if_missing=True, validate=True)
        env.ledger.forget(FAMILY, team_id)
        env.state.forget(team_id)
        log.warning("team %s: duckling tables dropped and recreated (delete_tables)", team_id)
