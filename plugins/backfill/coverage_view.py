"""The coverage picture: one team x day heatmap per family, as HTML (the Airflow UI page) and as a PNG
(``python -m backfill coverage --png FILE``). Both draw a ``coverage.Grid``; the colours are defined once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlencode

from backfill.coverage import FAMILIES, STATES, Grid
from backfill.params import team_id_list
from backfill.settings import OBSERVABILITY, TEMPLATES_DIR

COLOURS = {
    "done": "#2e9e5b",
    "missing": "#d64545",
    "stale": "#e8a33d",
    "failed": "#7b1f8c",
    "in_progress": "#3d7be8",
    "no_traffic": "#d9dde3",
    "not_checked": "#ffffff",
}
LABELS = {s: s.replace("_", " ") for s in STATES}
MAX_TEAMS = OBSERVABILITY.coverage_max_teams  # one page of rows: a filter narrows it
MAX_DAYS = OBSERVABILITY.coverage_max_days


@dataclass(frozen=True)
class Query:
    """The page's filters, validated: a known family, a window of at most a year, integer team ids."""

    family: str
    start: dt.date
    end: dt.date
    team_ids: list[int] | None

    @classmethod
    def parse(
        cls,
        family: str | None,
        start: str | None,
        end: str | None,
        teams: str | None,
        today: dt.date | None = None,
    ) -> Query:
        family = family or "web_preagg"
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
        today = today or dt.datetime.now(dt.UTC).date()
        try:
            end_day = dt.date.fromisoformat(end) if end else today - dt.timedelta(days=1)
            start_day = (
                dt.date.fromisoformat(start)
                if start
                else end_day - dt.timedelta(days=OBSERVABILITY.coverage_default_days - 1)
            )
        except ValueError:
            raise ValueError("start and end must be dates, YYYY-MM-DD") from None
        if start_day > end_day:
            raise ValueError(f"start {start_day} is after end {end_day}")
        if (end_day - start_day).days + 1 > MAX_DAYS:
            raise ValueError(f"the window is longer than {MAX_DAYS} days")
        team_ids = team_id_list(teams or "", "teams") or None
        if team_ids and len(team_ids) > MAX_TEAMS:
            raise ValueError(f"teams lists {len(team_ids)} teams; the page shows at most {MAX_TEAMS}")
        return cls(family, start_day, end_day, team_ids)


def run_url(dag_id: str, run_id: str) -> str:
    """The Airflow UI page of a DAG run (relative to the api-server's root)."""
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _cell_title(c) -> str:
    parts = [f"team {c.team_id} · {c.day} · {LABELS[c.state]}"]
    if c.source_count is not None:
        parts.append(f"source {c.source_count}")
    if c.target_count is not None:
        parts.append(f"target {c.target_count}")
    if c.clickhouse and c.clickhouse.get("queries"):
        ch = c.clickhouse
        parts.append(f"ClickHouse read {ch['rows_read']} rows, wrote {ch['rows_written']}")
    if c.run_id:
        parts.append(f"run {c.run_id}")
    if c.error:
        parts.append(f"error: {c.error[:300]}")
    return "\n".join(parts)


UPKEEP_COLUMNS = ("team_id", "data_files", "data_bytes", "snapshots", "last_upkeep", "last_compaction",
                  "last_expiry", "last_cleanup", "last_erasure")  # fmt: skip


@cache
def _template():
    """The page's Jinja2 template (include/templates/coverage.html.j2), HTML-escaped by default."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, keep_trailing_newline=True
    )
    return env.get_template("coverage.html.j2")


def render_html(grid: Grid, query: Query, base: str, ducklings: list[dict] | None = None) -> str:
    """The page: filters, legend, counts, the heatmap (each cell links to the run that last touched it)."""
    days = [grid.start + dt.timedelta(days=i) for i in range((grid.end - grid.start).days + 1)]
    by_team: dict[int, dict] = {}
    for c in grid.cells:
        by_team.setdefault(c.team_id, {})[c.day] = c
    counts = grid.counts()

    def cell(c) -> dict | None:
        if c is None:
            return None
        href = run_url(c.dag_id, c.run_id) if c.dag_id and c.run_id else None
        return {
            "day": c.day,
            "state": c.state,
            "title": _cell_title(c),
            "colour": COLOURS[c.state],
            "href": href,
        }

    teams_value = ",".join(map(str, query.team_ids or []))
    json_href = f"{base.rsplit('/', 1)[0]}/api/coverage?" + urlencode(
        {
            "family": grid.family,
            "start": grid.start,
            "end": grid.end,
            **({"teams": teams_value} if teams_value else {}),
        }
    )
    return _template().render(
        family=grid.family,
        base=base,
        start=grid.start,
        end=grid.end,
        teams_value=teams_value,
        json_href=json_href,
        tabs=[
            {
                "name": f,
                "on": f == grid.family,
                "href": f"{base}?{urlencode({'family': f, 'start': query.start, 'end': query.end})}",
            }
            for f in FAMILIES
        ],  # fmt: skip
        legend=[{"state": s, "colour": COLOURS[s], "label": LABELS[s], "count": counts[s]} for s in STATES],
        days=[
            {"day": d, "label": f"{d:%d}", "month_label": f"{d:%b}" if d.day == 1 or d == days[0] else None}
            for d in days
        ],
        rows=[
            {"team": team, "cells": [cell(by_team.get(team, {}).get(d)) for d in days]}
            for team in grid.team_ids[:MAX_TEAMS]
        ],
        more=len(grid.team_ids) - MAX_TEAMS,
        cost=grid.cost(),
        ducklings=ducklings or [],
        upkeep_columns=UPKEEP_COLUMNS,
    )


def render_png(grid: Grid, path: str) -> None:
    """The same heatmap as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    days = [grid.start + dt.timedelta(days=i) for i in range((grid.end - grid.start).days + 1)]
    teams = grid.team_ids[:MAX_TEAMS] or [0]
    index = {s: i for i, s in enumerate(STATES)}
    matrix = [[index["not_checked"]] * len(days) for _ in teams]
    row_of = {t: i for i, t in enumerate(teams)}
    for c in grid.cells:
        if c.team_id in row_of:
            matrix[row_of[c.team_id]][(c.day - grid.start).days] = index[c.state]
    width = min(24, 3 + 0.28 * len(days))
    height = min(40, 2.2 + 0.28 * len(teams))
    fig, ax = plt.subplots(figsize=(width, height))
    cmap = ListedColormap([COLOURS[s] for s in STATES])
    ax.imshow(matrix, cmap=cmap, vmin=0, vmax=len(STATES) - 1, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(teams)), [f"team {t}" for t in teams], fontsize=8)
    step = max(1, len(days) // 15)
    ax.set_xticks(range(0, len(days), step), [days[i].isoformat() for i in range(0, len(days), step)],
                  rotation=60, ha="right", fontsize=8)  # fmt: skip
    ax.set_xticks([x - 0.5 for x in range(len(days) + 1)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(len(teams) + 1)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    counts = grid.counts()
    ax.legend(
        handles=[
            Patch(facecolor=COLOURS[s], edgecolor="#999", label=f"{LABELS[s]} ({counts[s]})") for s in STATES
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize=8,
        frameon=False,
    )
    ax.set_title(f"{grid.family} coverage {grid.start}..{grid.end}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
