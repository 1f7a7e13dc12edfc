"""Erasure on real components (chdb -> moto S3 -> DuckLake on PostgreSQL), on a team shaped like PostHog
after a person merge: a merge is not an erasure, an erased person is gone from every lake table, live file
and staging file, and stays gone after later daily runs, late deletions and registrations in flight."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow.parquet as pq
import pytest
from duckling_helpers import ch_exec, run_partition

from backfill import sql as sqlt
from backfill.duckling.credentials import access_for
from backfill.duckling.export import export_partition
from backfill.duckling.lake import open_lake
from backfill.duckling.params import RunParams
from backfill.duckling.plan import item
from backfill.duckling.register import register_partition
from backfill.duckling.run import RunInfo
from backfill.upkeep.maintain import maintain_duckling
from backfill.upkeep.policy import Policy

TEAM = 21
D1, D2, D3 = dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 3)
P_KEEP, P_GONE = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
P_OTHER, P_ERASE = "00000000-0000-4000-8000-00000000000c", "00000000-0000-4000-8000-00000000000d"
EMAIL = {P_KEEP: "keep@example.com", P_GONE: "gone@example.com", P_OTHER: "other@example.com",
         P_ERASE: "erase-me@example.com"}  # fmt: skip
# (day, distinct id, person id on the event, events): P_GONE is merged into P_KEEP at D2 12:00
EVENTS = [
    (D1, "d_keep", P_KEEP, 5), (D1, "d_moved", P_GONE, 8), (D1, "d_other", P_OTHER, 4), (D1, "d_erase", P_ERASE, 6),
    (D2, "d_keep", P_KEEP, 3), (D2, "d_moved", P_GONE, 4), (D2, "d_erase", P_ERASE, 3),
    (D2, "d_moved", P_KEEP, 5),  # ingested after the merge: person_id is the survivor's
    (D3, "d_moved", P_KEEP, 4), (D3, "d_other", P_OTHER, 2), (D3, "d_erase", P_ERASE, 2),
]  # fmt: skip
MERGED_AT = dt.datetime(2024, 3, 2, 12, tzinfo=dt.UTC)

INSERT_EVENTS = """INSERT INTO events (uuid, event, properties, timestamp, team_id, distinct_id, person_id,
    session_id, elements_chain, created_at, _timestamp)
SELECT generateUUIDv4(), '$pageview', '{}', toDateTime64({at:String}, 6, 'UTC') + number * 60, {team_id:Int64},
       {distinct_id:String}, toUUID({person_id:String}), '', '', toDateTime64({at:String}, 6, 'UTC'),
       toDateTime({at:String}, 'UTC')
FROM numbers({n:UInt32})"""
INSERT_PERSON = """INSERT INTO person (id, created_at, team_id, properties, is_identified, is_deleted, version,
    _timestamp)
SELECT toUUID({id:String}), toDateTime64({at:String}, 3, 'UTC'), {team_id:Int64}, {properties:String}, 1,
       {deleted:Int8}, {version:UInt64}, toDateTime({at:String}, 'UTC')"""
INSERT_DISTINCT_ID = """INSERT INTO {table:Identifier} (team_id, distinct_id, person_id, is_deleted, version,
    _timestamp)
SELECT {team_id:Int64}, {distinct_id:String}, toUUID({person_id:String}), {deleted:Int8}, {version:Int64},
       toDateTime({at:String}, 'UTC')"""
CH_BY_DISTINCT_ID = """SELECT distinct_id, toString(person_id) AS person_id, uniqExact(uuid) AS n FROM events
WHERE team_id = {team_id:Int64} GROUP BY distinct_id, person_id ORDER BY distinct_id, person_id"""


def _at(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return f"{value} 09:00:00"


def _person(env, pid: str, at, *, version: int, deleted: bool = False) -> None:
    props = "{}" if deleted else f'{{"email": "{EMAIL[pid]}"}}'
    ch_exec(env, INSERT_PERSON, {"id": pid, "at": _at(at), "team_id": TEAM, "properties": props,
                                 "deleted": int(deleted), "version": version})  # fmt: skip


def _mapping(env, distinct_id: str, pid: str, at, *, version: int, table="person_distinct_id2") -> None:
    ch_exec(env, INSERT_DISTINCT_ID, {"table": table, "team_id": TEAM, "distinct_id": distinct_id,
                                      "person_id": pid, "deleted": 0, "version": version, "at": _at(at)})  # fmt: skip


def _merged_team(env, clickhouse) -> None:
    for day, distinct_id, pid, n in EVENTS:
        at = (
            MERGED_AT + dt.timedelta(hours=1)
            if (day == D2 and pid == P_KEEP and distinct_id == "d_moved")
            else day
        )
        ch_exec(env, INSERT_EVENTS, {"at": _at(at), "team_id": TEAM, "distinct_id": distinct_id,
                                     "person_id": pid, "n": n})  # fmt: skip
    for pid in EMAIL:
        _person(env, pid, D1, version=0)
    for distinct_id, pid in (
        ("d_keep", P_KEEP),
        ("d_moved", P_GONE),
        ("d_other", P_OTHER),
        ("d_erase", P_ERASE),
    ):
        _mapping(env, distinct_id, pid, D1, version=0)
    # the merge: P_GONE deleted, its distinct id re-pointed at P_KEEP (a newer version) plus an override
    _person(env, P_GONE, MERGED_AT, version=1, deleted=True)
    _mapping(env, "d_moved", P_KEEP, MERGED_AT, version=1)
    _mapping(env, "d_moved", P_KEEP, MERGED_AT, version=1, table="person_distinct_id_overrides")


def _daily(env, days, run="daily") -> None:
    for day in days:
        run_partition(env, TEAM, day, "persons", run_id=f"{run}-p-{day}")
        run_partition(env, TEAM, day, run_id=f"{run}-e-{day}")


def _erase_request(env, pid: str, at: dt.datetime) -> None:
    """PostHog's "delete person and events": the person deleted (a higher version), its events deleted."""
    _person(env, pid, at, version=5, deleted=True)
    ch_exec(env, "DELETE FROM events WHERE team_id = {team_id:Int64} AND person_id = toUUID({p:String})",
            {"team_id": TEAM, "p": pid})  # fmt: skip


def _lake(env):
    duckling = env.registry.get(TEAM)
    return open_lake(duckling, access_for(duckling))


def _lake_by_distinct_id(env) -> list[dict]:
    with _lake(env) as lake:
        rows = lake.con.execute(
            "SELECT distinct_id, CAST(person_id AS VARCHAR), count(DISTINCT uuid) FROM lake.main.events "
            "WHERE team_id = $t GROUP BY ALL ORDER BY 1, 2",
            {"t": TEAM},
        ).fetchall()
    return [{"distinct_id": d, "person_id": p, "n": n} for d, p, n in rows]


def _traces(env, needles: tuple[str, ...]) -> dict[str, int]:
    """Where any needle (an id, an email) still appears: each lake table, each live file read directly,
    and every Parquet object in the bucket (staging files included), read from S3."""
    found: dict[str, int] = {}
    with _lake(env) as lake:
        for table in ("events", "persons", "person_distinct_ids", "person_deletions"):
            if not lake.columns(table):
                continue
            text = f"SELECT count(*) FROM lake.main.{table} t WHERE list_has_any($n, regexp_extract_all(CAST(t AS VARCHAR), '[A-Za-z0-9_@.-]+'))"  # noqa: S608 (fixed names)
            found[table] = lake.con.execute(text, {"n": list(needles)}).fetchone()[0]
    duckling = env.registry.get(TEAM)
    client = access_for(duckling).boto3_client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=duckling.bucket):
        for o in page.get("Contents", []):
            body = client.get_object(Bucket=duckling.bucket, Key=o["Key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            cells = {str(v) for col in table.columns for v in col.to_pylist()}
            found[o["Key"]] = sum(1 for n in needles if n in cells or any(n in c for c in cells))
    return {k: v for k, v in found.items() if v}


def _ch_live_mapping(env) -> dict[str, str]:
    return {
        r["distinct_id"]: r["person_id"]
        for r in env.ch.query("duckling/latest_distinct_ids", {"team_id": TEAM})
    }


def _record(env, record_fault, fault, fired, erased, tries):
    """The fault table's row: the invariant over every day of the team, persons compared with ClickHouse's
    latest state minus the erased, and the check shown able to fail."""
    from invariant import can_fail, check

    days = [(TEAM, d) for d in (D1, D2, D3)]
    figures = check(env, days, persons=True, erased=erased)
    able = can_fail(env, days, persons=True, erased=erased)
    record_fault(fault, tries, figures.holds, figures.rows_lost, figures.duplicate_rows, figures.files_lost,
                 figures.orphans_left, fired=fired, persons=not figures.persons_diff, can_fail=able)  # fmt: skip
    assert figures.holds and able, figures


def _tries(env) -> int:
    return sum(int(r["attempts"]) for r in env.ledger.rows("duckling", team_ids=[TEAM]))


@pytest.mark.faults
def test_an_erasure_after_a_merge_forgets_only_the_erased(env, clickhouse, make_duckling, record_fault):
    _merged_team(env, clickhouse)
    make_duckling(TEAM)
    _daily(env, (D1, D2, D3))
    moved = [r for r in _lake_by_distinct_id(env) if r["distinct_id"] == "d_moved"]
    assert sum(r["n"] for r in moved) == 21 and {r["person_id"] for r in moved} == {P_GONE, P_KEEP}

    _erase_request(env, P_ERASE, dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1))
    upkeep = maintain_duckling(TEAM, Policy(), RunInfo("duckling_maintenance", "m1"), env)
    assert upkeep["erased_persons"] == 1, upkeep  # P_GONE is deleted too, but merged: not erased

    # the survivor keeps every event under the moved id, before and after the merge, and its mapping
    expected = [r for r in env.ch.query(sqlt.Template("test", CH_BY_DISTINCT_ID), {"team_id": TEAM})]
    assert _lake_by_distinct_id(env) == [dict(r) for r in expected]
    assert sum(r["n"] for r in _lake_by_distinct_id(env) if r["distinct_id"] == "d_moved") == 21
    with _lake(env) as lake:
        mapping = {r["distinct_id"]: r["person_id"] for r in lake.distinct_ids()}
        persons = {r["id"] for r in lake.persons()}
    live = _ch_live_mapping(env)
    assert mapping == {d: p for d, p in live.items() if d != "d_erase"} == {
        "d_keep": P_KEEP, "d_moved": P_KEEP, "d_other": P_OTHER}  # fmt: skip
    assert persons == {P_KEEP, P_OTHER}  # P_GONE left by the ordinary merge (a tombstone), P_ERASE erased
    # the erased person: no table, no live file, no staging file holds its id, distinct id or email
    assert _traces(env, (P_ERASE, "d_erase", EMAIL[P_ERASE])) == {}
    assert _traces(env, (EMAIL[P_GONE],)) == {}, "staging files are removed after their merge"
    _record(env, record_fault, "erasure after a person merge (survivor kept)", upkeep["erased_persons"],
            (P_ERASE, "d_erase"), _tries(env))  # fmt: skip


@pytest.mark.faults
def test_an_erased_person_stays_erased_after_later_runs(env, clickhouse, make_duckling, record_fault):
    """The next daily run, a late deletion with an older _timestamp, an older persons file and an events
    register in flight across the erasure: none of them writes an erased person or id back."""
    _merged_team(env, clickhouse)
    make_duckling(TEAM)
    _daily(env, (D1, D2))
    # in flight across the erasure: D3's events and D1's persons exported before it, registered after
    run = RunInfo("duckling_backfill", "inflight")
    events_d3 = export_partition(item(TEAM, D3, "events", "t"), RunParams(), run, env)
    persons_d1 = export_partition(item(TEAM, D1, "persons", "t"), RunParams(), run, env)

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _erase_request(env, P_ERASE, now - dt.timedelta(minutes=1))
    assert (
        maintain_duckling(TEAM, Policy(), RunInfo("duckling_maintenance", "m1"), env)["erased_persons"] == 1
    )
    register_partition(events_d3, RunParams(), run, env)
    [d3] = env.ledger.rows("duckling", team_ids=[TEAM], start=D3, end=D3, kind="events")
    dropped = json.loads(d3["detail"]).get("erased_rows_dropped", 0)
    assert dropped == 2, "the in-flight register met the erased person's 2 rows and dropped them"
    register_partition(persons_d1, RunParams(), run, env)
    assert _traces(env, (P_ERASE, "d_erase", EMAIL[P_ERASE])) == {}

    # the next daily run exports the day of the deletion (the deleted person and its distinct id)
    run_partition(env, TEAM, now.date(), "persons", run_id="next-p")
    run_partition(env, TEAM, D3, run_id="next-e")
    assert _traces(env, (P_ERASE, "d_erase", EMAIL[P_ERASE])) == {}

    # a deletion ingested late, stamped before the watermark: still propagated by the next upkeep
    _erase_request(env, P_OTHER, now - dt.timedelta(hours=2))
    later = maintain_duckling(TEAM, Policy(), RunInfo("duckling_maintenance", "m2"), env)
    assert later["erased_persons"] == 1
    assert _traces(env, (P_OTHER, "d_other", EMAIL[P_OTHER])) == {}
    again = maintain_duckling(TEAM, Policy(), RunInfo("duckling_maintenance", "m3"), env)
    assert again["erased_persons"] == 0  # found again inside the rescan margin: nothing left to do
    assert _lake_by_distinct_id(env) == [
        dict(r) for r in env.ch.query(sqlt.Template("test", CH_BY_DISTINCT_ID), {"team_id": TEAM})
    ]
    with _lake(env) as lake:
        assert {r["distinct_id"]: r["person_id"] for r in lake.distinct_ids()} == {
            "d_keep": P_KEEP, "d_moved": P_KEEP}  # fmt: skip
    _record(env, record_fault, "erasure with a register in flight, then a late deletion", dropped + 1,
            (P_ERASE, "d_erase", P_OTHER, "d_other"), _tries(env))  # fmt: skip
