"""The bodies of the four tasks of both duckling DAGs: detect -> export (mapped) -> register (mapped) -> report.

Each takes plain values (params dict or Options, a partition item, a RunInfo) and an ``Env`` holding
the ClickHouse seam and the app DB; tests call them directly, the DAG file wires them.

Exactly once, per (team, day, kind): export claims the partition in the ledger (expiring lease, owner =
dag_id:run_id) and writes a NEW file; register renews the same claim and, in one DuckLake transaction,
deletes the team-day and adds exactly that attempt's files (a path already known to the catalog is
refused), then compares the lake's count with the file's. A killed attempt leaves at most an
unreferenced file (an orphan, removed later by report) and a claim that expires.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from backfill.appdb import AppDB
from backfill.clickhouse import ClickHouse, QueryTag
from backfill.duckling import orphans
from backfill.duckling.credentials import access_for
from backfill.duckling.errors import DucklingError, describe
from backfill.duckling.export import EVENTS, PERSONS_FULL, Exporter, split_person_files
from backfill.duckling.lake import open_lake
from backfill.duckling.plan import Options, days_of_run, plan_daily, plan_full
from backfill.duckling.registry import Registry
from backfill.ledger import CLAIMED, DONE, EXPORTED, FAILED, ClaimLost, Ledger, PartitionKey, utcnow
from backfill.settings import CONNECTIONS, DUCKLING

log = logging.getLogger(__name__)
FAMILY = DUCKLING.family


@dataclass
class Env:
    ch: ClickHouse
    db: AppDB
    aws_conn_id: str = CONNECTIONS.aws

    @classmethod
    def from_connections(cls) -> Env:
        return cls(ClickHouse.from_conn_id(CONNECTIONS.clickhouse), AppDB.from_conn_id(CONNECTIONS.app_db))

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.db)

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.db)


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    try_number: int = 1
    data_interval_start: dt.datetime | None = None

    @property
    def owner(self) -> str:
        return f"{self.dag_id}:{self.run_id}"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _key(item: dict[str, Any]) -> PartitionKey:
    return PartitionKey(FAMILY, int(item["team_id"]), dt.date.fromisoformat(item["day"]), item["kind"])


# --- detect ---------------------------------------------------------------------------------------
def detect(
    mode: str,
    params: dict[str, Any] | Options,
    run: RunInfo,
    env: Env | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Plan the run. Bad params raise OptionsError before anything is written."""
    today = today or _today()
    options = params if isinstance(params, Options) else Options.from_params(params, today=today)
    env = env or Env.from_connections()
    teams = list(options.team_ids) or env.registry.team_ids()
    if options.delete_tables and not options.dry_run:
        reset_ducklings(list(options.team_ids), run, env)
    live = env.ledger.live_claims(FAMILY)
    if mode == "daily":
        days = days_of_run(options, run.data_interval_start, today)
        failed = [
            (int(r["team_id"]), r["day"], r["kind"])
            for r in env.ledger.rows(
                FAMILY,
                status=FAILED,
                start=today - dt.timedelta(days=DUCKLING.retry_failed_days),
                end=today - dt.timedelta(days=1),
            )
        ]
        late = late_event_days(teams, max(days), env) if "events" in options.kinds and teams else []
        items, summary = plan_daily(
            teams=teams,
            days=days,
            kinds=options.kinds,
            failed=failed,
            late=late,
            live=live,
            cap=options.max_partitions,
        )
        summary["days"] = [d.isoformat() for d in days]
    elif mode == "full":
        earliest = earliest_days(teams, env, cache=not options.dry_run)
        until = options.end_date or today - dt.timedelta(days=1)
        done_status = {DONE, EXPORTED} if options.skip_ducklake_registration else {DONE}
        done = {
            (int(r["team_id"]), r["day"])
            for r in env.ledger.rows(FAMILY, team_ids=teams, kind=EVENTS)
            if r["status"] in done_status
        }
        needs = [t for t in teams if earliest.get(t) is not None and not _full_persons_done(t, env)]
        items, summary = plan_full(
            earliest=earliest,
            until=until,
            since=options.start_date,
            done=done,
            needs_full_persons=needs,
            kinds=options.kinds,
            live=live,
            cap=options.max_partitions,
        )
        summary["earliest"] = {t: (d.isoformat() if d else None) for t, d in earliest.items()}
        summary["remaining_days"] = {str(t): n for t, n in summary["remaining_days"].items()}
    else:
        raise ValueError(f"unknown mode {mode!r}")
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


def late_event_days(teams: list[int], day: dt.date, env: Env) -> list[tuple[int, dt.date]]:
    """Days in the settle window before ``day`` whose ClickHouse count differs from the exported count."""
    start, end = day - dt.timedelta(days=DUCKLING.settle_days), day - dt.timedelta(days=1)
    rows = env.ch.query(
        "duckling/count_events_days",
        {"team_ids": teams, "start_day": start, "end_day": end},
        tag=QueryTag(dag_id=DUCKLING.daily_dag_id, what="settle check"),
    )
    now_counts = {(int(r["team_id"]), r["day"]): int(r["n"]) for r in rows}
    late = []
    for r in env.ledger.rows(FAMILY, team_ids=teams, start=start, end=end, kind=EVENTS, status=DONE):
        k = (int(r["team_id"]), r["day"])
        if r["source_count"] is not None and now_counts.get(k, 0) != int(r["source_count"]):
            late.append(k)
    return late


def _team_state(env: Env) -> sa.Table:
    return env.db.table("duckling_team_state")


def _full_persons_done(team_id: int, env: Env) -> bool:
    t = _team_state(env)
    with env.db.engine.connect() as conn:
        v = conn.execute(sa.select(t.c.full_persons_exported_at).where(t.c.team_id == team_id)).scalar()
    return v is not None


def _upsert_state(env: Env, team_id: int, **values: Any) -> None:
    t = _team_state(env)
    stmt = env.db.insert(t).values(team_id=team_id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=[t.c.team_id], set_=values)
    with env.db.engine.begin() as conn:
        conn.execute(stmt)


def earliest_days(teams: list[int], env: Env, *, cache: bool = True) -> dict[int, dt.date | None]:
    """Each team's first day with events: cached in duckling_team_state, asked of ClickHouse once."""
    t = _team_state(env)
    with env.db.engine.connect() as conn:
        known = {
            int(r.team_id): r.earliest_day
            for r in conn.execute(
                sa.select(t.c.team_id, t.c.earliest_day).where(
                    t.c.team_id.in_(teams), t.c.earliest_day.isnot(None)
                )
            )
        }
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
                _upsert_state(env, int(r["team_id"]), earliest_day=r["earliest_day"])
    return {x: known.get(x) for x in teams}


def reset_ducklings(team_ids: list[int], run: RunInfo, env: Env) -> None:
    """delete_tables: drop and recreate the teams' lake tables, forget their ledger rows and state."""
    for team_id in team_ids:
        duckling = env.registry.get(team_id)
        with open_lake(duckling, access_for(duckling, run.run_id, env.aws_conn_id)) as lake:
            lake.drop_tables()
            for kind in ("events", "persons"):
                lake.ensure_tables(kind, create_if_missing=True, validate=True)
        lt = env.ledger.t
        with env.db.engine.begin() as conn:
            conn.execute(sa.delete(lt).where(lt.c.family == FAMILY, lt.c.team_id == team_id))
            conn.execute(sa.delete(_team_state(env)).where(_team_state(env).c.team_id == team_id))
        log.warning("team %s: duckling tables dropped and recreated (delete_tables)", team_id)


# --- export ---------------------------------------------------------------------------------------
def export_partition(item: dict[str, Any], options: Options, run: RunInfo, env: Env | None = None) -> dict:
    """Claim the partition and write its file(s) to the duckling's bucket. Returns a small dict."""
    env = env or Env.from_connections()
    key = _key(item)
    out = {k: item[k] for k in ("team_id", "day", "kind", "label")}
    out.update(files=[], source_count=0)
    duckling = env.registry.get(key.team_id)  # a bad or missing row fails here: nothing written
    if options.dry_run:
        return {**out, "status": "dry_run"}
    if not env.ledger.claim(key, run.owner, DUCKLING.lease_seconds):
        log.info("%s is in progress elsewhere (live claim): skipped", item["label"])
        return {**out, "status": "in_progress"}
    try:
        access = access_for(duckling, run.run_id, env.aws_conn_id)
        exporter = Exporter(
            env.ch, access, duckling, run.run_id, run.try_number, run.dag_id, options.clickhouse_settings
        )
        res = (
            exporter.events(key.day)
            if key.kind == EVENTS
            else exporter.persons(key.day, full=key.kind == PERSONS_FULL)
        )
    except Exception as exc:
        err = exc if isinstance(exc, DucklingError) else DucklingError(key.team_id, key.day, describe(exc))
        _record_failure(env, key, run, err)
        raise err from None
    detail = {"export": res.detail, "run_id": run.run_id}
    if options.skip_ducklake_registration:
        detail["registration"] = "skipped: skip_ducklake_registration"
        env.ledger.mark(
            key, run.owner, EXPORTED, files=res.files, source_count=res.source_count, detail=detail
        )
        status = "exported_only"
    else:
        env.ledger.mark(
            key, run.owner, CLAIMED, files=res.files, source_count=res.source_count, detail=detail
        )
        status = "exported"
    log.info("%s: exported %d rows in %d file(s)", item["label"], res.source_count, len(res.files))
    return {**out, "files": res.files, "source_count": res.source_count, "status": status}


def _record_failure(env: Env, key: PartitionKey, run: RunInfo, err: Exception) -> None:
    try:
        env.ledger.fail(key, run.owner, str(err))
    except ClaimLost:
        log.warning("could not record the failure of %s: claim lost", key)


# --- register -------------------------------------------------------------------------------------
def register_partition(
    exported: dict[str, Any], options: Options, run: RunInfo, env: Env | None = None, *, before_commit=None
) -> dict:
    """One DuckLake transaction for the partition; then verify counts and record the outcome."""
    if exported.get("status") != "exported":
        return dict(exported)
    env = env or Env.from_connections()
    key = _key(exported)
    files, source = list(exported["files"]), int(exported["source_count"])
    try:
        env.ledger.renew(key, run.owner, DUCKLING.lease_seconds)
    except ClaimLost:
        raise DucklingError(
            key.team_id,
            key.day,
            "lost the ledger claim before registration (lease expired and "
            "another run took the partition over); nothing registered",
        ) from None
    detail: dict[str, Any] = {"run_id": run.run_id}
    try:
        duckling = env.registry.get(key.team_id)
        access = access_for(duckling, run.run_id, env.aws_conn_id)
        with open_lake(duckling, access) as lake:
            lake.ensure_tables(
                key.kind,
                create_if_missing=options.create_tables_if_missing,
                validate=not options.skip_schema_validation,
                day=key.day,
            )
            if key.kind == EVENTS:
                lake.register_events(
                    key.day,
                    files,
                    cleanup=options.cleanup_existing_partition_data,
                    before_commit=before_commit,
                )
                target, uuids = lake.events_day_count(key.day)
                detail.update(lake_rows=target, lake_uuids=uuids)
                if not options.cleanup_existing_partition_data:
                    detail["warning"] = "appended without cleanup: one-copy guarantee given up"
                elif target != source or uuids != target:
                    raise DucklingError(
                        key.team_id,
                        key.day,
                        f"lake holds {target} rows ({uuids} distinct uuids) "
                        f"after registration, the exported file(s) had {source}",
                    )
            else:
                persons, distinct = split_person_files(files)
                staged, target = lake.merge_persons(
                    persons, distinct, day=key.day, before_commit=before_commit
                )
                detail.update(staged=staged, applied=target)
                if target != staged:
                    raise DucklingError(
                        key.team_id, key.day, f"persons merge applied {target} of {staged} rows"
                    )
    except Exception as exc:
        err = exc if isinstance(exc, DucklingError) else DucklingError(key.team_id, key.day, describe(exc))
        if err.team_id is None:
            err = DucklingError(key.team_id, key.day, err.cause, transient=err.transient)
        _record_failure(env, key, run, err)
        raise err from None
    env.ledger.succeed(key, run.owner, source_count=source, target_count=target, files=files, detail=detail)
    if key.kind == PERSONS_FULL:
        _upsert_state(env, key.team_id, full_persons_exported_at=utcnow())
    log.info("%s: registered, lake %d / source %d", exported["label"], target, source)
    return {**exported, "status": "done", "target_count": target}


# --- report ---------------------------------------------------------------------------------------
@dataclass
class Report:
    mode: str
    rows: list[dict] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    deferred_over_cap: int = 0
    orphans_removed: list[str] = field(default_factory=list)
    orphans_kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    would_do: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == FAILED]

    def as_dict(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for r in self.rows:
            by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        return {
            "mode": self.mode,
            "by_status": by_status,
            "failed": [r["label"] + ": " + (r["error"] or "") for r in self.failed],
            "in_progress": self.in_progress,
            "deferred_over_cap": self.deferred_over_cap,
            "orphans_removed": self.orphans_removed,
            "orphans_kept": self.orphans_kept,
            "warnings": self.warnings,
            "would_do": self.would_do,
            "rows": [
                {k: r[k] for k in ("label", "status", "source_count", "target_count")} for r in self.rows
            ],
        }

    def text(self) -> str:
        lines = [f"duckling {self.mode} report"]
        for r in self.rows:
            lines.append(
                f"  {r['label']:<40} {r['status']:<9} source={r['source_count']} lake={r['target_count']}"
                + (f"  error: {r['error']}" if r["error"] else "")
            )
        for w in self.warnings:
            lines.append(f"  WARNING: {w}")
        if self.in_progress:
            lines.append(f"  in progress elsewhere (skipped): {', '.join(self.in_progress)}")
        if self.deferred_over_cap:
            lines.append(f"  deferred to later runs (over max_partitions): {self.deferred_over_cap}")
        for o in self.orphans_removed:
            lines.append(f"  orphan removed: {o}")
        for o in self.orphans_kept:
            lines.append(f"  orphan kept: {o}")
        if self.would_do:
            lines.append(f"  dry run, would do: {', '.join(self.would_do)}")
        return "\n".join(lines)


def report(
    summary: dict[str, Any],
    options: Options,
    run: RunInfo,
    env: Env | None = None,
    *,
    raise_on_failure: bool = True,
) -> dict[str, Any]:
    """Outcome of every planned partition from the ledger, orphans, warnings. Fails if a partition failed."""
    env = env or Env.from_connections()
    rep = Report(
        summary["mode"],
        in_progress=summary.get("in_progress", []),
        deferred_over_cap=summary.get("deferred_over_cap", 0),
        would_do=summary.get("would_do", []),
    )
    items = [] if options.dry_run else summary.get("items", [])
    ledger = _ledger_rows_for(items, env)  # one query for every planned partition
    for it in items:
        r = ledger.get(
            (int(it["team_id"]), it["day"], it["kind"]),
            {"status": "not run", "source_count": None, "target_count": None, "error": None},
        )
        if r["status"] == CLAIMED and r.get("claim_owner") != run.owner:
            r = {**r, "status": "in_progress"}
        rep.rows.append(
            {
                "label": it["label"],
                "status": r["status"],
                "source_count": r["source_count"],
                "target_count": r["target_count"],
                "error": r.get("error"),
            }
        )
    if not options.cleanup_existing_partition_data and items:
        rep.warnings.append(
            "cleanup_existing_partition_data=false: files were APPENDED without deleting the "
            "day's existing rows; the one-copy guarantee is given up for these partitions"
        )
    if options.skip_ducklake_registration and items:
        rep.warnings.append(
            "skip_ducklake_registration: files were written to S3 and recorded in the ledger, "
            "not registered in the DuckLake"
        )
    if not options.dry_run:
        _orphans(items, run, env, rep)
    log.info("%s", rep.text())
    result = rep.as_dict()
    if raise_on_failure and rep.failed:
        raise DucklingError(
            None, None, f"{len(rep.failed)} partition(s) failed: " + "; ".join(result["failed"])[:3000]
        )
    return result


def _ledger_rows_for(items: list[dict], env: Env) -> dict[tuple[int, str, str], dict]:
    """Ledger rows of the planned partitions, keyed (team_id, ISO day, kind)."""
    if not items:
        return {}
    days = [dt.date.fromisoformat(it["day"]) for it in items]
    rows = env.ledger.rows(
        FAMILY, team_ids=sorted({int(it["team_id"]) for it in items}), start=min(days), end=max(days)
    )
    return {(int(r["team_id"]), r["day"].isoformat(), r["kind"]): r for r in rows}


def _orphans(items: list[dict], run: RunInfo, env: Env, rep: Report) -> None:
    by_team: dict[int, set[dt.date]] = {}
    for it in items:
        if it["kind"] == EVENTS:
            by_team.setdefault(int(it["team_id"]), set()).add(dt.date.fromisoformat(it["day"]))
    for team_id, days in sorted(by_team.items()):
        try:
            duckling = env.registry.get(team_id)
            access = access_for(duckling, run.run_id, env.aws_conn_id)
            s3 = access.boto3_client()
            with open_lake(duckling, access) as lake:
                if not lake.columns("events"):
                    continue
                registered = lake.registered_paths()
            for day in sorted(days):
                files = orphans.list_day_files(s3, duckling.bucket, team_id, day)
                ledger_rows = env.ledger.rows(FAMILY, team_ids=[team_id], start=day, end=day, kind=EVENTS)
                now = utcnow()
                found = orphans.find_orphans(files, registered, orphans.protected_files(ledger_rows, now))
                live = any(
                    r["status"] == CLAIMED and r["lease_expires_at"] and r["lease_expires_at"] > now
                    for r in ledger_rows
                )
                if live:
                    rep.orphans_kept += found
                else:
                    rep.orphans_removed += orphans.remove(s3, found)
        except Exception as exc:  # the report must not hide the partitions' outcome
            rep.warnings.append(f"team {team_id}: orphan check skipped: {describe(exc)}")


def ledger_files(row: dict) -> list[str]:
    return json.loads(row.get("files") or "[]")
