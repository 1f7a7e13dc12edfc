"""Which teams to check: the enabled teams, plus opt-in sources; the ``team_ids`` param overrides all.

Sources, in order:
  1. posthog_team.web_analytics_pre_aggregated_tables_enabled (the primary source, app DB);
  2. the comma-separated id list in the env var or Airflow Variable WEB_ANALYTICS_ENABLED_TEAM_IDS
     (switched on by setting it; every id must be a positive integer or the run fails);
  3. the top N teams by median daily pageviews over the window (param include_top_teams).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from backfill.clickhouse import ClickHouse, QueryTag
from backfill.params import team_id_list
from backfill.settings import WEB_PREAGG
from backfill.web_preagg.params import RunParams, Window

log = logging.getLogger(__name__)


@dataclass
class Selection:
    team_ids: list[int]
    sources: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"team_ids": self.team_ids, "sources": self.sources}


def configured_team_ids(
    variable_get: Callable[[str], str | None] | None = None, env: dict[str, str] | None = None
) -> tuple[str, list[int]] | None:
    """The env var (first) or Airflow Variable WEB_ANALYTICS_ENABLED_TEAM_IDS, parsed; None when unset."""
    name = WEB_PREAGG.enabled_team_ids_variable
    env = os.environ if env is None else env
    if env.get(name, "").strip():
        return f"env {name}", team_id_list(env[name], f"env var {name}")
    if variable_get is not None:
        value = variable_get(name)
        if value is not None and str(value).strip():
            return f"variable {name}", team_id_list(str(value), f"Airflow Variable {name}")
    return None


def top_teams(ch: ClickHouse, window: Window, limit: int, tag: QueryTag) -> list[int]:
    rows = ch.query(
        "web_preagg/top_teams",
        {"start_day": window.start, "end_day": window.end, "days": window.days, "limit": limit},
        tag=tag,
    )
    return sorted(int(r["team_id"]) for r in rows)


def select_teams(
    params: RunParams,
    window: Window,
    *,
    enabled_team_ids: Callable[[], list[int]],
    ch: ClickHouse | None = None,
    variable_get: Callable[[str], str | None] | None = None,
    env: dict[str, str] | None = None,
    dag_id: str = WEB_PREAGG.dag_id,
) -> Selection:
    """Resolve the team list. Raises ValueError on an invalid configured id before anything is written."""
    if params.team_ids:
        return Selection(sorted(params.team_ids), {"param team_ids": sorted(params.team_ids)})
    sources: dict[str, list[int]] = {}
    configured = configured_team_ids(variable_get, env)  # validate first: fail before any query
    sources["posthog_team enabled"] = sorted(enabled_team_ids())
    if configured is not None:
        sources[configured[0]] = configured[1]
    if params.include_top_teams:
        if ch is None:
            raise ValueError("include_top_teams needs a ClickHouse connection")
        n = WEB_PREAGG.top_teams_by_pageviews
        sources[f"top {n} by median daily pageviews"] = top_teams(
            ch, window, n, QueryTag(dag_id, what="select_teams top_teams")
        )
    team_ids = sorted({t for ids in sources.values() for t in ids})
    for name, ids in sources.items():
        log.info("team source %-40s %4d teams", name, len(ids))
    return Selection(team_ids, sources)
