"""Coverage: the state of every (team, day) of a family, from what the runs stored.

Detection records what it saw (``CoverageStore.record``: the source count per team-day, and for
web_preagg its verdict); the ledger records what the backfill did. ``grid`` combines the two, the newer
fact winning, into one state per cell:

=============  =====================================================================================
state          meaning
=============  =====================================================================================
done           the target holds the team-day and agrees with the source (ducklings: a done ledger row
               whose source count is what the latest detection saw)
missing        the source has traffic and the target has no copy (ducklings: events, no done row)
stale          the target holds it, but the source changed since (ducklings: the count detection saw
               differs from the one registered; web_preagg: the tables' pageviews differ from the source)
failed         the backfill's last attempt failed (the error is on the cell)
in_progress    a live ledger claim: a run is writing it now
no_traffic     the source has nothing that day (ducklings: a done day of 0 events)
not_checked    no detection looked at it and no run touched it
=============  =====================================================================================

The coverage page, its JSON, ``python -m backfill coverage --png`` and the freshness check read this,
never ClickHouse: the api-server must not open the embedded engine (one process holds it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from backfill.appdb import AppDB
from backfill.clickhouse import QueryStats
from backfill.families import COVERED, DUCKLING, UPKEEP
from backfill.ledger import CLAIMED, DEFERRED, DONE, EXPORTED, FAILED, SKIPPED, Ledger, detail_of, utcnow

DONE_STATE, MISSING, STALE, FAILED_STATE = "done", "missing", "stale", "failed"
IN_PROGRESS, NO_TRAFFIC, NOT_CHECKED = "in_progress", "no_traffic", "not_checked"
STATES = (DONE_STATE, MISSING, STALE, FAILED_STATE, IN_PROGRESS, NO_TRAFFIC, NOT_CHECKED)

HISTORY_KIND = DUCKLING.kinds[-1]  # the duckling ledger's per-team coverage watermark (duckling/detect.py)
# family -> (ledger kind whose rows make the cell, the DAG whose read access the page requires)
FAMILIES = {f.name: (f.kind, f.dag_id) for f in COVERED}


@dataclass(frozen=True)
class Observation:
    """One team-day as a detection saw it."""

    team_id: int
    day: dt.date
    source_count: int
    target_count: int | None = None
    state: str | None = None  # the detection's verdict, when it makes one (web_preagg)


@dataclass
class Cell:
    team_id: int
    day: dt.date
    state: str
    source_count: int | None = None
    target_count: int | None = None
    error: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    updated_at: dt.datetime | None = None
    clickhouse: dict[str, Any] | None = None  # the partition's ClickHouse cost (ledger detail)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["day"] = self.day.isoformat()
        d["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return d


@dataclass
class Grid:
    family: str
    start: dt.date
    end: dt.date
    team_ids: list[int]
    cells: list[Cell] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for c in self.cells:
            out[c.state] += 1
        return out

    def cost(self) -> dict[str, Any]:
        total = QueryStats(queries=0)
        for c in self.cells:
            if c.clickhouse:
                total = total + QueryStats.from_dict(c.clickhouse)
        return total.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "team_ids": self.team_ids,
            "states": list(STATES),
            "counts": self.counts(),
            "clickhouse": self.cost(),
            "cells": [c.to_dict() for c in self.cells],
        }


@dataclass
class CoverageStore:
    db: AppDB

    @property
    def t(self) -> sa.Table:
        return self.db.table("coverage")

    def record(self, family: str, observations: Iterable[Observation], *, dag_id: str, run_id: str) -> int:
        """Upsert what a detection saw (one statement executed for all rows)."""
        now, t = utcnow(), self.t
        rows = [
            dict(family=family, team_id=o.team_id, day=o.day, source_count=o.source_count,
                 target_count=o.target_count, observed_state=o.state, observed_at=now,
                 dag_id=dag_id, run_id=run_id)
            for o in observations
        ]  # fmt: skip
        if not rows:
            return 0
        stmt = self.db.insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.family, t.c.team_id, t.c.day],
            set_={c: stmt.excluded[c] for c in rows[0] if c not in ("family", "team_id", "day")},
        )
        with self.db.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def rows(
        self, family: str, start: dt.date, end: dt.date, team_ids: list[int] | None = None
    ) -> list[dict]:
        t = self.t
        stmt = sa.select(t).where(t.c.family == family, t.c.day >= start, t.c.day <= end)
        if team_ids is not None:
            stmt = stmt.where(t.c.team_id.in_(team_ids))
        with self.db.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]


def _run_of(ledger_row: dict) -> tuple[str | None, str | None]:
    """(dag_id, run_id) of the run that last touched a ledger row: owners are ``dag/run`` or ``dag:run``."""
    owner = ledger_row.get("claim_owner") or ""
    for sep in ("/", ":"):
        if sep in owner:
            dag_id, run_id = owner.split(sep, 1)
            return dag_id, run_id
    return None, None


def classify(obs: dict | None, led: dict | None, now: dt.datetime) -> str:
    """The state of one cell from its coverage row and its ledger row (either may be missing)."""
    if led is not None:
        status = led["status"]
        lease = led.get("lease_expires_at")
        if status in (CLAIMED, EXPORTED) and lease is not None and lease > now:
            return IN_PROGRESS
        newer = obs is None or led["updated_at"] >= obs["observed_at"]
        # a failure stands until a later write succeeds, or a later detection finds the target complete
        if status == FAILED and (newer or not obs.get("observed_state")):
            return FAILED_STATE
        done = status == DONE or (status == EXPORTED and _export_only(led))
        if done and newer:
            return NO_TRAFFIC if led.get("source_count") == 0 else DONE_STATE
    if obs is None:
        return MISSING if led is not None and led["status"] in (DEFERRED, CLAIMED, EXPORTED) else NOT_CHECKED
    if obs.get("observed_state"):
        return obs["observed_state"]
    source = int(obs["source_count"])
    if led is not None and led["status"] == DONE:
        if led.get("source_count") is not None and int(led["source_count"]) != source:
            return STALE
        return NO_TRAFFIC if source == 0 else DONE_STATE
    if led is not None and led["status"] == SKIPPED and source == 0:
        return NO_TRAFFIC
    return MISSING if source > 0 else NO_TRAFFIC


def _export_only(led: dict) -> bool:
    return "skip_ducklake_registration" in (led.get("detail") or "")


class GridTooLarge(ValueError):
    """The asked grid holds more cells than the caller allows (the page's memory bound)."""


def grid(
    db: AppDB,
    family: str,
    start: dt.date,
    end: dt.date,
    team_ids: list[int] | None = None,
    *,
    max_cells: int | None = None,
) -> Grid:
    """Every (team, day) cell of ``family`` over [start, end] for ``team_ids`` (default: every team the
    coverage or the ledger knows in that window). Over ``max_cells`` cells: ``GridTooLarge``, before any
    cell is built."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: one of {sorted(FAMILIES)}")
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")
    kind = FAMILIES[family][0]
    observed = {
        (int(r["team_id"]), r["day"]): r for r in CoverageStore(db).rows(family, start, end, team_ids)
    }
    ledger = {
        (int(r["team_id"]), r["day"]): r
        for r in Ledger(db).rows(family, team_ids=team_ids, start=start, end=end, kind=kind)
    }
    teams = sorted(
        set(team_ids) if team_ids is not None else {t for t, _ in observed} | {t for t, _ in ledger}
    )
    cells = len(teams) * ((end - start).days + 1)
    if max_cells is not None and cells > max_cells:
        raise GridTooLarge(
            f"{len(teams)} teams x {(end - start).days + 1} days = {cells:,} cells, over the limit of "
            f"{max_cells:,}: narrow the teams or the window"
        )
    # ducklings: days through a team's coverage watermark are done even after their rows were retired
    marks = Ledger(db).watermarks(family, HISTORY_KIND, teams) if family == DUCKLING.name and teams else {}
    now = utcnow()
    out = Grid(family, start, end, teams)
    for team in teams:
        day = start
        while day <= end:
            obs, led = observed.get((team, day)), ledger.get((team, day))
            cell = Cell(team, day, classify(obs, led, now))
            if led is None and team in marks and day <= marks[team]:
                cell.state = DONE_STATE
            if obs is not None:
                cell.source_count, cell.target_count = obs["source_count"], obs["target_count"]
                cell.dag_id, cell.run_id, cell.updated_at = obs["dag_id"], obs["run_id"], obs["observed_at"]
            # the ledger's run "last touched" the cell when its row is newer, or decides the state
            ledger_decides = cell.state in (FAILED_STATE, IN_PROGRESS)
            if led is not None and (ledger_decides or obs is None or led["updated_at"] >= obs["observed_at"]):
                cell.dag_id, cell.run_id = _run_of(led)
                cell.updated_at = led["updated_at"]
                if led.get("source_count") is not None:
                    cell.source_count = led["source_count"]
                if led.get("target_count") is not None:
                    cell.target_count = led["target_count"]
            if led is not None:
                cell.error = led.get("error") if cell.state == FAILED_STATE else None
                cell.clickhouse = detail_of(led).get("clickhouse")
            out.cells.append(cell)
            day += dt.timedelta(days=1)
    return out


def upkeep(db: AppDB, team_ids: list[int]) -> list[dict[str, Any]]:
    """Per duckling, from the upkeep's ledger rows (duckling_maintenance): its size after the latest
    upkeep, and when compaction, expiry, cleanup and erasure last did something."""

    rows = Ledger(db).rows(UPKEEP.name, team_ids=team_ids or None, kind=UPKEEP.kind, status=DONE)
    out: dict[int, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["updated_at"]):
        d, at = detail_of(r), r["updated_at"].isoformat()
        team = out.setdefault(int(r["team_id"]), {"team_id": int(r["team_id"])})
        team.update(
            last_upkeep=at,
            **{k: d.get("after", {}).get(k) for k in ("data_files", "data_bytes", "snapshots")},
        )
        for what, key in (("compaction", "merged_files"), ("expiry", "expired_snapshots"),
                          ("cleanup", "deleted_files"), ("erasure", "erased_persons")):  # fmt: skip
            if d.get(key):
                team[f"last_{what}"] = at
    return [out[t] for t in sorted(out)]
