"""Detection: which (team, day, table) partitions are missing, and which present team-days are stale.

``detect`` runs ONE query (include/sql/web_preagg/detect.sql) over all selected teams; ``classify`` is the
pure decision over its rows and the ledger's baselines. The DAG, the gap CLI and the recompute
verification all use this module, so they agree on what "expected" means.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from backfill.clickhouse import ClickHouse, QueryTag
from backfill.ledger import DONE, Ledger
from backfill.settings import WEB_PREAGG
from backfill.web_preagg import FAMILY, KIND, SHORT, TABLES
from backfill.web_preagg.params import Window


@dataclass(frozen=True)
class Coverage:
    """One (team, day, table) row of the detection query."""

    team_id: int
    day: dt.date
    table: str
    source_pageviews: int
    target_rows: int
    target_pageviews: int

    @property
    def expected(self) -> bool:
        return self.source_pageviews > 0

    @property
    def present(self) -> bool:
        return self.target_rows > 0


@dataclass(frozen=True)
class TeamDay:
    team_id: int
    day: dt.date
    tables: tuple[str, ...]  # the tables this finding concerns (missing in, or stale in)
    source_pageviews: int
    reason: str

    def to_dict(self) -> dict:
        return {
            "team_id": self.team_id,
            "day": self.day.isoformat(),
            "tables": list(self.tables),
            "source_pageviews": self.source_pageviews,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TeamDay:
        return cls(
            int(d["team_id"]),
            dt.date.fromisoformat(d["day"]),
            tuple(d["tables"]),
            int(d["source_pageviews"]),
            d["reason"],
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


def query_coverage(
    ch: ClickHouse, team_ids: list[int], window: Window, tables: tuple[str, ...], tag: QueryTag
) -> list[Coverage]:
    """The one detection query. No team ids: nothing to check (the query is not sent)."""
    if not team_ids:
        return []
    rows = ch.query(
        "web_preagg/detect",
        {
            "team_ids": [int(t) for t in team_ids],
            "start_day": window.start,
            "end_day": window.end,
            "tables": list(tables),
        },
        tag=tag,
    )
    return [
        Coverage(
            int(r["team_id"]),
            r["day"],
            r["table_name"],
            int(r["source_pageviews"]),
            int(r["target_rows"]),
            int(r["target_pageviews"]),
        )
        for r in rows
    ]


def ledger_baselines(ledger: Ledger, team_ids: list[int], window: Window) -> dict[tuple[int, dt.date], int]:
    """Source pageview counts recorded when this backfill last computed each team-day."""
    rows = ledger.rows(
        FAMILY, team_ids=list(team_ids), start=window.start, end=window.end, kind=KIND, status=DONE
    )
    return {
        (int(r["team_id"]), r["day"]): int(r["source_count"]) for r in rows if r["source_count"] is not None
    }


def classify(
    coverage: list[Coverage], baselines: dict[tuple[int, dt.date], int], tables: tuple[str, ...]
) -> tuple[list[TeamDay], list[TeamDay], list[TeamDay]]:
    """Pure: (missing, stale, present) team-days, newest first within each team order.

    missing: the team had traffic (sessions starting that day with >= 1 pageview) and at least one
             checked table holds no row for it; a team-day counts once, listing its missing tables.
    stale:   present in every checked table, but the source changed: the ledger baseline differs from
             the source pageviews now, or a table's pageview total differs from the source (late
             events, deleted events, or rows left where the source has no traffic any more).
    """
    by_team_day: dict[tuple[int, dt.date], dict[str, Coverage]] = {}
    for c in coverage:
        if c.table in tables:
            by_team_day.setdefault((c.team_id, c.day), {})[c.table] = c
    missing, stale, present = [], [], []
    for (team_id, day), per_table in sorted(by_team_day.items()):
        source = max(c.source_pageviews for c in per_table.values())
        absent = tuple(t for t in tables if t not in per_table or not per_table[t].present)
        if source > 0 and absent:
            names = ", ".join(SHORT[t] for t in absent)
            missing.append(TeamDay(team_id, day, absent, source, f"missing in {names}"))
            continue
        reasons, stale_tables = [], []
        baseline = baselines.get((team_id, day))
        if baseline is not None and baseline != source:
            reasons.append(f"source pageviews {baseline} -> {source} since computed")
            stale_tables = list(tables)
        for t in tables:
            c = per_table.get(t)
            if c is not None and c.present and c.target_pageviews != source:
                reasons.append(f"{SHORT[t]} has {c.target_pageviews} pageviews, source {source}")
                if t not in stale_tables:
                    stale_tables.append(t)
        if reasons:
            stale.append(
                TeamDay(
                    team_id, day, tuple(t for t in tables if t in stale_tables), source, "; ".join(reasons)
                )
            )
        elif all(t in per_table and per_table[t].present for t in tables):
            present.append(TeamDay(team_id, day, tables, source, "present"))
    return missing, stale, present


def detect(
    ch: ClickHouse,
    ledger: Ledger | None,
    team_ids: list[int],
    window: Window,
    tables: tuple[str, ...] = TABLES,
    *,
    dag_id: str = WEB_PREAGG.dag_id,
) -> Detection:
    tag = QueryTag(dag_id, day=f"{window.start}..{window.end}", what=f"detect {len(team_ids)} teams")
    coverage = query_coverage(ch, team_ids, window, tables, tag)
    baselines = ledger_baselines(ledger, team_ids, window) if ledger is not None and team_ids else {}
    missing, stale, present = classify(coverage, baselines, tables)
    return Detection(window, list(team_ids), tables, coverage, missing, stale, present)
