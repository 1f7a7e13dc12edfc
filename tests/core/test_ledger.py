"""Claims with expiring leases, on both app-DB backends (PostgreSQL server and the demo's SQLite)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from backfill.appdb import AppDB
from backfill.ledger import CLAIMED, DONE, FAILED, ClaimLost, Ledger, PartitionKey
from devtools import appdb_setup

KEY = PartitionKey("test", 42, dt.date(2024, 3, 1), "team_day")


@pytest.fixture(params=["postgresql", "sqlite"])
def ledger(request, appdb, tmp_path):
    if request.param == "postgresql":
        return Ledger(appdb)
    db = AppDB.from_url(f"sqlite:///{tmp_path / 'app.sqlite'}")
    appdb_setup.prepare(db)
    return Ledger(db)


def test_a_live_claim_keeps_others_out(ledger):
    assert ledger.claim(KEY, "run-a", lease_seconds=60)
    assert not ledger.claim(KEY, "run-b", lease_seconds=60)
    assert ledger.claim(KEY, "run-a", lease_seconds=60), "the holder may re-claim (task retry)"
    assert (42, KEY.day, "team_day") in ledger.live_claims("test")


def test_an_expired_claim_is_taken_over(ledger):
    assert ledger.claim(KEY, "killed-task", lease_seconds=1)
    time.sleep(1.2)
    assert ledger.claim(KEY, "run-b", lease_seconds=60)
    with pytest.raises(ClaimLost):
        ledger.succeed(KEY, "killed-task", source_count=1)
    ledger.succeed(KEY, "run-b", source_count=10, target_count=10)
    row = ledger.rows("test")[0]
    assert (row["status"], row["source_count"], row["attempts"]) == (DONE, 10, 2)
    assert row["lease_expires_at"] is None


def test_renew_extends_and_detects_takeover(ledger):
    assert ledger.claim(KEY, "run-a", lease_seconds=1)
    ledger.renew(KEY, "run-a", lease_seconds=60)
    time.sleep(1.2)
    assert not ledger.claim(KEY, "run-b", lease_seconds=60), "renewed lease is still live"
    ledger.fail(KEY, "run-a", "boom")
    assert ledger.rows("test", status=FAILED)[0]["error"] == "boom"
    assert ledger.claim(KEY, "run-b", lease_seconds=60), "a finished partition can be claimed again"
    with pytest.raises(ClaimLost):
        ledger.renew(KEY, "run-a", lease_seconds=60)
    assert ledger.rows("test")[0]["status"] == CLAIMED


def test_cleanup_keeps_live_claims_and_recent_baselines(ledger):
    old = PartitionKey("test", 1, dt.date(2020, 1, 1), "team_day")
    recent_day = PartitionKey("test", 2, dt.date.today() - dt.timedelta(days=10), "team_day")
    live = PartitionKey("test", 3, dt.date(2020, 1, 2), "team_day")
    for key in (old, recent_day):
        ledger.claim(key, "w", 60)
        ledger.succeed(key, "w", source_count=5)
    ledger.claim(live, "w", 3600)
    t = ledger.t
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=400)
    with ledger.db.engine.begin() as conn:  # every row last touched 400 days ago
        conn.execute(sa.update(t).values(updated_at=long_ago))
    assert ledger.cleanup("test", older_than_days=90, keep_baseline_days=365) == 1
    left = {(r["team_id"], r["status"]) for r in ledger.rows("test")}
    assert left == {(2, DONE), (3, CLAIMED)}


def test_a_recorded_failure_keeps_the_rows_detail_and_adds_the_error_class(ledger):
    """An export-only run's kept files live in the row's detail: a failure recorded afterwards (by the
    shared failure_recorded, no detail of its own) must keep them, or a cleanup could delete them."""
    from backfill.duckling.referenced import KEPT_EXPORTS, kept_exports
    from backfill.run import failure_recorded

    key = PartitionKey("duckling", 7, dt.date(2024, 3, 1), "events")
    assert ledger.claim(key, "dag:r1", 60)
    ledger.progress(key, "dag:r1", detail={KEPT_EXPORTS: ["s3://b/kept.parquet"]})

    class DiskFull(RuntimeError):
        pass

    with pytest.raises(DiskFull), failure_recorded(ledger, key, "dag:r1"):
        raise DiskFull("no space")
    [row] = ledger.rows("duckling", team_ids=[7])
    assert row["status"] == FAILED and kept_exports(row) == ["s3://b/kept.parquet"]
    assert json.loads(row["detail"])["error_class"] == "DiskFull"

    # with a detail of its own (web_preagg's cost and reason), that detail is stored, with the class
    key2 = PartitionKey("web_preagg", 7, dt.date(2024, 3, 1), "team_day")
    assert ledger.claim(key2, "dag:r1", 60)
    with (
        pytest.raises(DiskFull),
        failure_recorded(ledger, key2, "dag:r1", detail=lambda: {"reason": "missing"}),
    ):
        raise DiskFull("no space")
    [row2] = ledger.rows("web_preagg", team_ids=[7])
    assert json.loads(row2["detail"]) == {"reason": "missing", "error_class": "DiskFull"}
