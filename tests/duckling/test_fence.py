"""A write whose claim is no longer its own never commits: the lease is renewed while a task runs
(heartbeat) and the DuckLake commit is fenced by the ledger (real PostgreSQL app DB and catalog)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from duckling_helpers import DAYS, ch_day_counts, lake_day_counts, run_partition

from backfill.duckling.errors import DucklingError
from backfill.duckling.export import export_partition
from backfill.duckling.params import RunParams
from backfill.duckling.plan import item
from backfill.duckling.register import register_partition
from backfill.duckling.run import RunInfo, partition_key
from backfill.ledger import ClaimLost, PartitionKey, utcnow


def _expire(db, key: PartitionKey) -> None:
    """The claim's lease lapses (its holder stalled past it)."""
    t = db.table("ledger")
    with db.engine.begin() as conn:
        conn.execute(sa.update(t).where(key.where(t)).values(lease_expires_at=utcnow().replace(year=2000)))


@pytest.mark.parametrize("kind", ["events", "persons"])
def test_a_register_stalled_past_its_lease_never_commits(env, demo_data, make_duckling, kind):
    """Run A exported and opened its DuckLake transaction, then stalled past its lease; run B claimed,
    exported and registered the same (empty) team-day. A's commit is refused by the fence: the lake holds
    one copy (without the fence both transactions delete nothing, add their files and commit: 2x)."""
    make_duckling(11)
    day = DAYS[0]
    stale = RunInfo("duckling_backfill", "stale")
    exported = export_partition(item(11, day, kind, "t"), RunParams(), stale, env)
    key = partition_key(exported)
    takeover: dict = {}
    fired = []

    def stall():  # inside A's transaction, files added / rows merged, before its COMMIT
        fired.append(1)
        _expire(env.db, key)
        thread = threading.Thread(
            target=lambda: takeover.update(run_partition(env, 11, day, kind, run_id="b"))
        )
        thread.start()
        thread.join()

    with pytest.raises(DucklingError, match="lost the claim"):
        register_partition(exported, RunParams(), stale, env, before_commit=stall)
    assert fired == [1] and takeover["status"] == "done"
    [row] = env.ledger.rows("duckling", team_ids=[11], kind=kind)
    assert row["status"] == "done" and row["claim_owner"] == "duckling_backfill:b"
    if kind == "events":
        assert lake_day_counts(env, 11) == {day: ch_day_counts(env, 11)[day]}  # one copy of each uuid
    else:
        from duckling_helpers import lake_persons

        persons, distinct = lake_persons(env, 11)
        assert len(persons) == len({p["id"] for p in persons}) > 0
        assert len(distinct) == len({d["distinct_id"] for d in distinct}) > 0


def test_the_fence_refuses_a_lapsed_or_foreign_claim_and_blocks_a_takeover(appdb):
    from backfill.ledger import Ledger

    ledger = Ledger(appdb)
    key = PartitionKey("duckling", 5, DAYS[0], "events")
    assert ledger.claim(key, "a", 60)
    entered = threading.Event()
    claimed = {}

    def takeover():
        entered.wait()
        claimed["b"] = ledger.claim(key, "b", 60)  # blocks on the row the fence holds

    thread = threading.Thread(target=takeover)
    thread.start()
    with ledger.fenced(key, "a", 60):
        entered.set()
        # whenever the takeover got to its claim, it cannot have finished: the fence holds the row
        assert "b" not in claimed
    thread.join()
    assert claimed["b"] is False  # the fence extended a's lease: the takeover backs off

    _expire(appdb, key)
    with pytest.raises(ClaimLost, match="lapsed or was taken over"):
        with ledger.fenced(key, "a", 60):
            raise AssertionError("the body of a lapsed claim never runs")
    assert ledger.claim(key, "b", 60)
    with pytest.raises(ClaimLost):
        with ledger.fenced(key, "a", 60):
            raise AssertionError("the body of a foreign claim never runs")


def test_the_heartbeat_keeps_a_working_claim_alive(appdb):
    from backfill.ledger import Ledger

    ledger = Ledger(appdb)
    key = PartitionKey("duckling", 6, DAYS[0], "events")
    assert ledger.claim(key, "a", 60)
    with ledger.heartbeat(key, "a", 60, every_s=0.01) as beat:
        for _ in range(3):  # three renewals observed, each pushing the lease forward
            assert beat.beat.wait(60)
            beat.beat.clear()
            [row] = ledger.rows("duckling", team_ids=[6])
            assert row["lease_expires_at"] > utcnow()
    assert beat.beats >= 3 and not beat.lost
    assert ledger.claim(key, "b", 60) is False  # still a's
