"""The task bodies of backfill_freshness: the only code that reads the Airflow context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from backfill.appdb import AppDB
from backfill.freshness.objective import run_check
from backfill.run import timed, variable_get


@timed
def run_family_check(ctx: Mapping[str, Any], family: str) -> dict:
    # a scheduled run checks as of its own time; a manual trigger without a date, as of now
    as_of = ctx.get("logical_date") or dt.datetime.now(dt.UTC)
    with AppDB.from_conn_id() as db:
        return run_check(family, db, variable_get, as_of)
