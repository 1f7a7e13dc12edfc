"""Each family's names, in one place: its ledger family and kinds, its DAG ids and pools.

Shared modules (coverage, freshness, the coverage page) take a family's names from here, never from the
family's package, so imports only run down: a family imports the shared modules, not the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

from backfill.settings import DUCKLING as _DUCKLING
from backfill.settings import MAINTENANCE, POOLS
from backfill.settings import WEB_PREAGG as _WEB_PREAGG


@dataclass(frozen=True)
class Family:
    name: str  # the ledger's and the coverage table's family column
    kinds: tuple[str, ...]  # ledger kinds; the first is the one a coverage cell is made of
    dag_ids: tuple[str, ...]  # the first is the DAG whose read access the coverage page requires
    pools: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.kinds[0]

    @property
    def dag_id(self) -> str:
        return self.dag_ids[0]


WEB_PREAGG = Family("web_preagg", ("team_day",), (_WEB_PREAGG.dag_id,), (POOLS.web_preagg,))
DUCKLING = Family(
    _DUCKLING.family,
    ("events", "persons", "persons_full", "history"),  # history: a team's coverage watermark row
    (_DUCKLING.daily_dag_id, _DUCKLING.full_dag_id),
    (POOLS.duckling_export, POOLS.duckling_register),
)
UPKEEP = Family(MAINTENANCE.family, (MAINTENANCE.kind,), (MAINTENANCE.dag_id,), (POOLS.duckling_maintenance,))

# the families whose team-days the coverage page and the freshness check show
COVERED = (WEB_PREAGG, DUCKLING)
ALL = (WEB_PREAGG, DUCKLING, UPKEEP)  # every family with ledger rows (failure alerts list them)
