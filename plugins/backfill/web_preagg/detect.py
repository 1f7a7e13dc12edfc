"""Detection: which (team, day, table) partitions are missing, and which present team-days are stale.

``detect`` runs ONE query (include/sql/web_preagg/detect.sql) over all selected teams; ``classify`` is the
pure decision over its rows and the ledger's baselines. The DAG, the gap CLI and the recompute
verification all use this module, so they agree on what "expected" means.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from backfill.clickhouse import ClickHouse, QueryTag
from backfill.coverage import DONE_STATE, MISSING, NO_TRAFFIC, STALE, Observation
from backfill.ledger import DONE, Ledger
from backfill.settings import WEB_PREAGG
from backfill.web_preagg import BOUNCES, FAMILY, KIND, SHORT, STATS, TABLES
from backfill.web_preagg.params import Window


class Coverage(NamedTuple):
    """One (team, day) row of the detection query: the source's pageviews, and each table's row count
    and pageview total (0 and 0 when the table holds nothing for the team-day). A tuple: detection
    builds tens of thousands of these from the engine's columns."""

    team_id: int
    day: dt.date
    source_pageviews: int
    stats_rows: int
    stats_pageviews: int
    bounces_rows: int
    bounces_pageviews: int
    source_sessions: int = 0
    source_bounces: int = 0
    source_duration: int = 0
    bounces_sessions: int = 0
    bounces_bounces: int = 0
    bounces_duration: int = 0

    def session_digest(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(sessions, bounces, total duration) of the source and of the bounces table."""
        return (
            (self.source_sessions, self.source_bounces, self.source_duration),
            (self.bounces_sessions, self.bounces_bounces, self.bounces_duration),
        )

    def pageviews(self, table: str) -> int:
        return self[_COLUMNS[table][1]]

    def present(self, table: str) -> bool:
        return self[_COLUMNS[table][0]] > 0


_COLUMNS = {STATS: (3, 4), BOUNCES: (5, 6)}  # table -> positions of its (rows, pageviews) in Coverage


@dataclass(frozen=True)
class TeamDay:
    team_id: int
    day: dt.date
    tables: tuple[str, ...]  # the tables this finding concerns (missing in, or stale in)
    source_pageviews: int
    reason: str
    repair: bool = False  # missing, and this backfill touched it before: a hole it may have made

    def to_dict(self) -> dict:
        return {
            "team_id": self.team_id,
            "day": self.day.isoformat(),
            "tables": list(self.tables),
            "source_pageviews": self.source_pageviews,
            "reason": self.reason,
            "repair": self.repair,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TeamDay:
        return cls(
            int(d["team_id"]),
            dt.date.fromisoformat(d["day"]),
            tuple(d["tables"]),
            int(d["source_pageviews"]),
            d["reason"],
            bool(d.get("repair", False)),
        )


@dataclass
class Detection:
    window: Window
    team_ids: list[int]
    tables: tuple[str, ...]
    coverage: list[Coverage] = field(default_factory=list)
    missing: list[TeamDay] = field(default_factory=list)
    stale: list[TeamDay] = field(default_factory=list)
    present: list[TeamDay] = field(default_factory=list)  # present and not stale

    def observations(self) -> list[Observation]:
        """Every (team, day) of the window as this detection saw it, for the coverage store: the source's
        pageviews, the smaller checked table's pageviews, and the verdict (no_traffic without either)."""
        seen = {
            (c.team_id, c.day): (c.source_pageviews, min(c.pageviews(t) for t in self.tables))
            for c in self.coverage
        }
        verdict = {(m.team_id, m.day): MISSING for m in self.missing}
        verdict.update({(s.team_id, s.day): STALE for s in self.stale})
        verdict.update({(p.team_id, p.day): DONE_STATE for p in self.present})
        days = [self.window.start + dt.timedelta(days=i) for i in range(self.window.days)]
        nothing = (0, 0)
        return [
            Observation(team, day, *seen.get((team, day), nothing), verdict.get((team, day), NO_TRAFFIC))
            for team in self.team_ids
            for day in days
        ]

    def missing_partitions(self) -> set[tuple[int, dt.date, str]]:
        return {(m.team_id, m.day, t) for m in self.missing for t in m.tables}

    def to_dict(self, *, with_present: bool = False) -> dict:
        out = {
            "window": self.window.to_dict(),
            "team_count": len(self.team_ids),
            "tables": list(self.tables),
            "missing": [m.to_dict() for m in self.missing],
            "stale": [s.to_dict() for s in self.stale],
            "present_count": len(self.present),
        }
        if with_present:
            out["present"] = [p.to_dict() for p in self.present]
        return out


EVERYTHING_INGESTED = dt.datetime(2299, 12, 31, tzinfo=dt.UTC)  # detection reads every event ingested so far


def read_settings(dedupe_events: bool) -> dict:
    """Query settings of every statement that reads the counted events: detection and the inserts
    must read them the same way, or a team-day would look stale forever."""
    return {"final": 1} if dedupe_events else {}


def ingested_by(now: dt.datetime | None = None) -> dt.datetime:
    """The ingestion cutoff of a read: a whole second safely in the past, so that every event with a
    later ``_timestamp`` arrived after the read started (and is left for the next run)."""
    now = now or dt.datetime.now(dt.UTC)
    return (now - dt.timedelta(seconds=1)).replace(microsecond=0)


def query_coverage(
    ch: ClickHouse,
    team_ids: list[int],
    window: Window,
    tables: tuple[str, ...],
    tag: QueryTag,
    as_of: dt.datetime | None = None,
    dedupe_events: bool = WEB_PREAGG.dedupe_events,
) -> list[Coverage]:
    """The one detection query, over events ingested by ``as_of`` (default: all of them): one row per
    team-day with traffic or with rows in a checked table. No team ids: nothing to check (the query is
    not sent)."""
    if not team_ids:
        return []
    result = ch.execute(
        "web_preagg/detect",
        {
            "team_ids": [int(t) for t in team_ids],
            "start_day": window.start,
            "end_day": window.end,
            "as_of": as_of or EVERYTHING_INGESTED,
        },
        tag=tag,
        settings=read_settings(dedupe_events),
    )
    if tuple(result.columns) != Coverage._fields:
        raise RuntimeError(f"detect.sql returned columns {result.columns}, expected {Coverage._fields}")
    checked = [_COLUMNS[t][0] for t in tables]
    return [
        c
        for c in map(Coverage._make, result.tuples)
        if c.source_pageviews > 0 or any(c[i] > 0 for i in checked)
    ]


@dataclass(frozen=True)
class LedgerView:
    """What the ledger says about the window: baselines of computed team-days, and every team-day this
    backfill ever touched (a touched team-day that is missing now is a hole it may have made)."""

    baselines: dict[tuple[int, dt.date], int] = field(default_factory=dict)
    touched: frozenset[tuple[int, dt.date]] = frozenset()


def ledger_view(ledger: Ledger, team_ids: list[int], window: Window) -> LedgerView:
    rows = ledger.rows(FAMILY, team_ids=list(team_ids), start=window.start, end=window.end, kind=KIND)
    baselines = {
        (int(r["team_id"]), r["day"]): int(r["source_count"])
        for r in rows
        if r["status"] == DONE and r["source_count"] is not None
    }
    return LedgerView(baselines, frozenset((int(r["team_id"]), r["day"]) for r in rows))


def classify(
    coverage: list[Coverage],
    baselines: dict[tuple[int, dt.date], int],
    tables: tuple[str, ...],
    touched: frozenset[tuple[int, dt.date]] = frozenset(),
) -> tuple[list[TeamDay], list[TeamDay], list[TeamDay]]:
    """Pure: (missing, stale, present) team-days, newest first within each team order.

    missing: the team had traffic (sessions starting that day with >= 1 pageview) and at least one
             checked table holds no row for it; a team-day counts once, listing its missing tables. A
             missing team-day this backfill touched before (ledger row) is a ``repair``.
    stale:   present in every checked table, but the source changed: the ledger baseline differs from
             the source pageviews now, or a table's pageview total differs from the source (late
             events, deleted events, or rows left where the source has no traffic any more).
    """
    checked = [(t, *_COLUMNS[t]) for t in tables]  # (table, rows position, pageviews position)
    missing, stale, present = [], [], []
    for c in sorted(coverage):  # by team, then day
        team_id, day, source = c.team_id, c.day, c.source_pageviews
        absent = tuple(t for t, rows, _ in checked if c[rows] == 0)
        if not absent:
            sessions_agree = BOUNCES not in tables or c.session_digest()[0] == c.session_digest()[1]
            if (
                (baselines.get((team_id, day), source) == source)
                and sessions_agree
                and all(c[pv] == source for _, _, pv in checked)
            ):
                present.append(TeamDay(team_id, day, tables, source, "present"))
                continue
        elif source == 0 and len(absent) == len(tables):
            continue  # no traffic and no rows: nothing to say
        elif source > 0:
            names = ", ".join(SHORT[t] for t in absent)
            repair = (team_id, day) in touched
            why = f"missing in {names}" + (
                "; emptied after an earlier backfill attempt: repair" if repair else ""
            )
            missing.append(TeamDay(team_id, day, absent, source, why, repair))
            continue
        reasons, stale_tables = [], []
        baseline = baselines.get((team_id, day))
        if baseline is not None and baseline != source:
            reasons.append(f"source pageviews {baseline} -> {source} since computed")
            stale_tables = list(tables)
        for t, rows, pv in checked:
            if c[rows] > 0 and c[pv] != source:
                reasons.append(f"{SHORT[t]} has {c[pv]} pageviews, source {source}")
                if t not in stale_tables:
                    stale_tables.append(t)
        src, target = c.session_digest()
        if BOUNCES in tables and c.bounces_rows > 0 and src != target:
            # session-level values (bounce, duration, end page) feed both tables' rows: recompute both
            reasons.append(
                f"{SHORT[BOUNCES]} has sessions/bounces/duration {target}, source {src} (late events)"
            )
            stale_tables = list(tables)
        if reasons:
            stale.append(
                TeamDay(
                    team_id, day, tuple(t for t in tables if t in stale_tables), source, "; ".join(reasons)
                )
            )
    return missing, stale, present


def detect(
    ch: ClickHouse,
    ledger: Ledger | None,
    team_ids: list[int],
    window: Window,
    tables: tuple[str, ...] = TABLES,
    *,
    dag_id: str = WEB_PREAGG.dag_id,
    dedupe_events: bool = WEB_PREAGG.dedupe_events,
) -> Detection:
    tag = QueryTag(dag_id, day=f"{window.start}..{window.end}", what=f"detect {len(team_ids)} teams")
    coverage = query_coverage(ch, team_ids, window, tables, tag, dedupe_events=dedupe_events)
    view = ledger_view(ledger, team_ids, window) if ledger is not None and team_ids else LedgerView()
    missing, stale, present = classify(coverage, view.baselines, tables, view.touched)
    return Detection(window, list(team_ids), tables, coverage, missing, stale, present)
