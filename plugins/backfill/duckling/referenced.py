"""What counts as referenced: the ONE definition the path guard, the orphan sweep and every cleanup use.

A file under a duckling's DATA_PATH is referenced when
  * the catalog names it: a data file or a delete file of any snapshot, or a file scheduled for deletion
    that no cleanup has removed yet (``Lake.referenced_files``), or
  * the ledger names it for a partition that still needs it: a live claim (an export or registration in
    flight), an export-only run (``skip_ducklake_registration``: never registered on purpose), or a
    recent failure (its retry may register it) (``ledger_protected``).
Nothing referenced is ever deleted by this package; only DuckLake's own cleanup deletes catalog files,
and only after they left every snapshot (and the ledger check below vouches that none is wanted).
"""

from __future__ import annotations

import datetime as dt
import json

from backfill.ledger import CLAIMED, EXPORTED, FAILED, detail_of
from backfill.settings import DUCKLING

RETRY_GRACE = dt.timedelta(seconds=DUCKLING.lease_seconds)


def live(row: dict, now: dt.datetime) -> bool:
    return row["status"] == CLAIMED and row["lease_expires_at"] is not None and row["lease_expires_at"] > now


def ledger_protected(ledger_rows: list[dict], now: dt.datetime) -> set[str]:
    """Files the ledger says are wanted: of live claims, of recent failures (a retry may follow), or
    exported without registration on purpose (also after a later export of the same partition)."""
    keep: set[str] = set()
    for r in ledger_rows:
        recent_failure = r["status"] == FAILED and r["updated_at"] > now - RETRY_GRACE
        if live(r, now) or r["status"] == EXPORTED or recent_failure:
            keep.update(json.loads(r["files"] or "[]"))
        keep.update(kept_exports(r))
    return keep


def kept_exports(row: dict | None) -> list[str]:
    """Files of earlier export-only runs of this partition, carried forward when a later export replaced
    the row's files: the user asked to keep them unregistered, whatever the row's status now."""
    return list(detail_of(row).get(KEPT_EXPORTS, [])) if row else []


KEPT_EXPORTS = "kept_exports"


def referenced(
    catalog_files: set[str] | dict[str, str], ledger_rows: list[dict], now: dt.datetime
) -> set[str]:
    """The referenced set of one duckling: what its catalog references, plus what its ledger protects."""
    return set(catalog_files) | ledger_protected(ledger_rows, now)
