"""Duckling upkeep on real components (chdb -> moto S3 -> DuckLake on PostgreSQL): the referenced set
has a path from each of its sources, expiry + cleanup delete exactly what only expired snapshots used,
compaction keeps every team-day's rows, and nothing referenced is ever deleted."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from duckling_helpers import DAYS, ch_day_counts, lake_day_counts, run_partition, s3_keys

from backfill.duckling.credentials import access_for
from backfill.duckling.lake import open_lake
from backfill.duckling.params import RunParams
from backfill.duckling.referenced import referenced
from backfill.duckling.registry import Registry
from backfill.duckling.run import RunInfo
from backfill.ledger import utcnow
from backfill.upkeep import lake_upkeep
from backfill.upkeep.maintain import maintain_duckling, maintain_lake
from backfill.upkeep.policy import MIN_LEDGER_RETENTION_DAYS, PARAMS, Policy
from devtools.demo_data import DemoSpec, generate

# expire and clean everything allowed; erasures are tested on their own (the demo data deletes persons
# whose events it keeps in ClickHouse, so propagating them would make the lake differ on purpose)
NOW_POLICY = Policy(keep_snapshot_days=0, cleanup_margin_hours=0, propagate_erasures=False)
KEEP_POLICY = Policy(propagate_erasures=False)


def _lake(env, team):
    duckling = Registry(env.db).get(team)
    return open_lake(duckling, access_for(duckling))


def _exists(env, team, path: str) -> bool:
    duckling = Registry(env.db).get(team)
    bucket, key = path[len("s3://") :].split("/", 1)
    try:
        access_for(duckling).boto3_client().head_object(Bucket=bucket, Key=key)
        return True
    except Exception:
        return False


def _all_referenced_exist(env, team) -> list[str]:
    with _lake(env, team) as lake:
        catalog = lake.referenced_files()
    rows = env.ledger.rows("duckling", team_ids=[team])
    return [p for p in referenced(catalog, rows, utcnow()) if not _exists(env, team, p)]


def test_referenced_set_has_a_path_from_each_source(env, demo_data, make_duckling, clickhouse):
    spec = DemoSpec(team_ids=(13,), start_day=DAYS[0], days=2, sessions_per_day=40, persons_per_team=5)
    generate(clickhouse, spec)
    make_duckling(13)
    first = run_partition(env, 13, DAYS[0], run_id="r1")["files"][0]
    second = run_partition(env, 13, DAYS[0], run_id="r2")["files"][0]  # replaces the day: first is history
    exported = run_partition(
        env, 13, DAYS[1], run_id="r3", options=RunParams(skip_ducklake_registration=True)
    )
    with _lake(env, 13) as lake:
        # a partial delete writes a delete file (over 10 rows: fewer are inlined in the catalog); an expiry moves the first file to scheduled-for-deletion
        lake.con.execute(
            "DELETE FROM lake.main.events WHERE uuid IN "
            "(SELECT uuid FROM lake.main.events ORDER BY uuid LIMIT (SELECT count(*) // 2 FROM lake.main.events))"
        )
        lake_upkeep.expire_snapshots(lake, dt.datetime.now(dt.UTC))
        catalog = lake.referenced_files()
    by_source = {}
    for path, source in catalog.items():
        by_source.setdefault(source, set()).add(path)
    assert second in by_source["data"]
    assert first in by_source["scheduled"] and first not in by_source["data"]
    assert len(by_source.get("delete", ())) == 1, by_source
    assert next(iter(by_source["delete"])).startswith("s3://")
    ledger_file = exported["files"][0]
    assert ledger_file not in catalog
    assert ledger_file in referenced(catalog, env.ledger.rows("duckling", team_ids=[13]), utcnow())
    assert all(_exists(env, 13, p) for p in catalog), "every path resolves to an object that exists"


def test_expiry_and_cleanup_delete_only_what_expired_snapshots_used(env, demo_data, make_duckling):
    make_duckling(11)
    first = run_partition(env, 11, DAYS[0], run_id="r1")["files"][0]
    second = run_partition(env, 11, DAYS[0], run_id="r2")["files"][0]
    run_partition(env, 11, DAYS[1], run_id="r3")
    exported = run_partition(
        env, 11, DAYS[2], run_id="r4", options=RunParams(skip_ducklake_registration=True)
    )
    expected = ch_day_counts(env, 11)

    # the default policy keeps a week of snapshots: nothing expires, nothing is deleted
    kept = maintain_duckling(11, KEEP_POLICY, RunInfo("duckling_maintenance", "m1"), env)
    assert kept["expired_snapshots"] == 0 and kept["deleted_files"] == 0 and _exists(env, 11, first)

    done = maintain_duckling(11, NOW_POLICY, RunInfo("duckling_maintenance", "m2"), env)
    assert done["status"] == "done" and done["expired_snapshots"] > 0 and done["deleted_files"] == 1
    assert not _exists(env, 11, first)  # only the replaced file's snapshot used it
    assert _exists(env, 11, second) and _exists(env, 11, exported["files"][0])  # live, and export-only
    assert lake_day_counts(env, 11) == {d: expected[d] for d in DAYS[:2]}
    assert _all_referenced_exist(env, 11) == []
    assert done["after"]["snapshots"] < done["before"]["snapshots"]
    [row] = env.ledger.rows("duckling_maintenance", team_ids=[11], status="done")[-1:]
    assert json.loads(row["detail"])["deleted_files"] == 1
    # what the coverage page shows per duckling, from the upkeep's ledger rows
    from backfill.coverage import upkeep

    [shown] = upkeep(env.db, [11])
    assert (
        shown["data_files"] == done["after"]["data_files"]
        and shown["snapshots"] == done["after"]["snapshots"]
    )
    assert shown["last_cleanup"] and shown["last_expiry"] and "last_erasure" not in shown


def test_cleanup_refuses_when_the_ledger_still_names_a_due_file(env, demo_data, make_duckling):
    make_duckling(11)
    first = run_partition(env, 11, DAYS[0], run_id="r1")["files"][0]
    run_partition(env, 11, DAYS[0], run_id="r2")
    with _lake(env, 11) as lake:
        upkeep = maintain_lake(lake, {first}, NOW_POLICY, dt.datetime.now(dt.UTC))
    assert upkeep.deleted_files == [] and "still named by the ledger" in upkeep.cleanup_skipped
    assert _exists(env, 11, first)


def test_compaction_of_appended_files_keeps_every_row_while_a_reader_reads(env, demo_data, make_duckling):
    make_duckling(11)
    append = RunParams(cleanup_existing_partition_data=False)
    for i in range(3):  # three files in one team-day partition
        run_partition(env, 11, DAYS[0], run_id=f"a{i}", options=append)
    with _lake(env, 11) as lake:
        before = lake.con.execute(
            "SELECT uuid, count(*) FROM lake.main.events GROUP BY uuid ORDER BY uuid"
        ).fetchall()
        files_before = lake.stats()["data_files"]
    failures, reads, stop, first_read = [], [0], threading.Event(), threading.Event()

    def reader():
        try:
            with _lake(env, 11) as lake:
                while not stop.is_set():
                    try:
                        n = lake.con.execute("SELECT count(*) FROM lake.main.events").fetchone()[0]
                        assert n == sum(c for _, c in before)
                        reads[0] += 1
                    except Exception as exc:  # noqa: BLE001 (the test reports any failure)
                        failures.append(repr(exc))
                    first_read.set()
        finally:
            first_read.set()  # never leave the main thread waiting (a failed attach is in failures)

    thread = threading.Thread(target=reader)
    thread.start()
    first_read.wait()  # the reader has read once before the upkeep starts: reads[0] > 0 is not a race
    try:
        upkeep = maintain_duckling(
            11,
            Policy(cleanup_margin_hours=0, propagate_erasures=False),
            RunInfo("duckling_maintenance", "m"),
            env,
        )
    finally:
        stop.set()
        thread.join()
    assert failures == [] and reads[0] > 0
    assert upkeep["merged_files"] >= 3
    with _lake(env, 11) as lake:
        after = lake.con.execute(
            "SELECT uuid, count(*) FROM lake.main.events GROUP BY uuid ORDER BY uuid"
        ).fetchall()
        assert lake.stats()["data_files"] < files_before
    assert after == before
    assert _all_referenced_exist(env, 11) == []
    assert len(s3_keys(env, 11)) >= 1


def test_cleanup_racing_registrations_merges_and_orphan_sweeps(env, demo_data, make_duckling):
    """Upkeep (expire + clean everything allowed, compact) in a loop, while registrations replace days and
    append, and orphan sweeps run, all on one duckling: afterwards every referenced file exists and
    every team-day holds ClickHouse's rows."""
    from invariant import sweep

    make_duckling(11)
    for day in DAYS:
        run_partition(env, 11, day, run_id=f"seed-{day}")
    errors: list[str] = []
    stop = threading.Event()

    def guarded(fn):
        def loop():
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 (the test reports any failure)
                errors.append(f"{fn.__name__}: {exc!r}")

        return loop

    def registrations():
        for round_ in range(3):
            for day in DAYS:
                run_partition(env, 11, day, run_id=f"race-{round_}-{day}")
        stop.set()

    def upkeep():
        i = 0
        while not stop.is_set():
            maintain_duckling(11, NOW_POLICY, RunInfo("duckling_maintenance", f"race-m{i}"), env)
            i += 1

    def sweeps():
        while not stop.is_set():
            sweep(env, [(11, d) for d in DAYS])

    threads = [threading.Thread(target=guarded(f)) for f in (registrations, upkeep, sweeps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert errors == []
    maintain_duckling(11, NOW_POLICY, RunInfo("duckling_maintenance", "race-final"), env)
    assert _all_referenced_exist(env, 11) == []
    expected = ch_day_counts(env, 11)
    assert lake_day_counts(env, 11) == {d: expected[d] for d in DAYS}


def test_maintenance_dag_maintains_each_duckling_and_isolates_a_failure(
    dag_module, env, demo_data, make_duckling
):
    from airflow.sdk.definitions.param import ParamValidationError

    make_duckling(11)
    make_duckling(12)
    replaced = {}
    for team in (11, 12):
        replaced[team] = run_partition(env, team, DAYS[0], run_id="r1")["files"][0]
        run_partition(env, team, DAYS[0], run_id="r2")
    dag = dag_module("duckling_maintenance").duckling_maintenance
    conf = {"keep_snapshot_days": 0, "cleanup_margin_hours": 0, "propagate_erasures": False}
    dr = dag().test(logical_date=dt.datetime(2024, 4, 1, 3, tzinfo=dt.UTC), run_conf=conf)
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    assert not _exists(env, 11, replaced[11]) and not _exists(env, 12, replaced[12])
    for team in (11, 12):
        assert _all_referenced_exist(env, team) == []
        assert lake_day_counts(env, team) == {DAYS[0]: ch_day_counts(env, team)[DAYS[0]]}

    # one duckling's bucket is gone: its task fails, the other is maintained, the run fails
    Registry(env.db).upsert(**{**_registry_row(env, 12), "bucket": "no-such-bucket"})
    replaced[11] = run_partition(env, 11, DAYS[1], run_id="r3")["files"][0]
    run_partition(env, 11, DAYS[1], run_id="r4")
    dr = dag().test(logical_date=dt.datetime(2024, 4, 2, 3, tzinfo=dt.UTC), run_conf=conf)
    states = {
        (ti.task_id, ti.map_index): str(getattr(ti.state, "value", ti.state))
        for ti in dr.get_task_instances()
    }
    assert str(getattr(dr.state, "value", dr.state)) == "failed"
    assert sorted(s for (t, _), s in states.items() if t == "maintain") == ["failed", "success"]
    assert not _exists(env, 11, replaced[11])

    with pytest.raises(ParamValidationError):
        dag().test(
            logical_date=dt.datetime(2024, 4, 3, 3, tzinfo=dt.UTC), run_conf={"keep_snapshot_days": -1}
        )


def _registry_row(env, team: int) -> dict:
    import sqlalchemy as sa

    t = env.db.table("duckling_registry")
    with env.db.engine.connect() as conn:
        return dict(conn.execute(sa.select(t).where(t.c.team_id == team)).one()._mapping)


PERSON_WITH_EVENTS = """SELECT toString(person_id) AS person_id, count() AS n FROM events
WHERE team_id = {team_id:Int64}
  AND person_id IN (SELECT id FROM person WHERE team_id = {team_id:Int64} GROUP BY id
                    HAVING argMax(is_deleted, version) = 0)
GROUP BY person_id ORDER BY n DESC, person_id LIMIT 1"""
DELETE_PERSON = """INSERT INTO person (id, created_at, team_id, properties, is_identified, is_deleted, version, _timestamp)
SELECT id, created_at, team_id, properties, is_identified, 1, version + 1, now() + INTERVAL 1 SECOND
FROM person WHERE team_id = {team_id:Int64} AND id = toUUID({person_id:String})
ORDER BY version DESC LIMIT 1"""
DELETE_EVENTS = (
    """DELETE FROM events WHERE team_id = {team_id:Int64} AND person_id = toUUID({person_id:String})"""
)
DISTINCT_IDS = """SELECT DISTINCT distinct_id FROM person_distinct_id2
WHERE team_id = {team_id:Int64} AND person_id = toUUID({person_id:String})"""


def _rows_of(lake, person_id: str, distinct_ids: list[str]) -> dict[str, int]:
    """Rows naming the person in each lake table, and in each live file read directly."""
    out = {}
    ids = [person_id, *distinct_ids]
    for table, where in (
        ("events", "CAST(person_id AS VARCHAR) = $p OR list_contains($d, distinct_id)"),
        ("persons", "CAST(id AS VARCHAR) = $p"),
        ("person_distinct_ids", "CAST(person_id AS VARCHAR) = $p OR list_contains($d, distinct_id)"),
        ("person_deletions", "list_contains($all, key)"),
    ):
        if lake.columns(table):
            sql = f"SELECT count(*) FROM lake.main.{table} WHERE {where}"  # noqa: S608 (fixed names above)
            params = {
                k: v for k, v in {"p": person_id, "d": distinct_ids, "all": ids}.items() if f"${k}" in sql
            }
            out[table] = lake.con.execute(sql, params).fetchone()[0]
            for (path,) in lake.con.execute(
                f"SELECT data_file FROM ducklake_list_files('lake', '{table}')"  # noqa: S608
            ).fetchall():
                probe = f"SELECT count(*) FROM read_parquet('{path}') WHERE {where}"  # noqa: S608
                out[path] = lake.con.execute(probe, params).fetchone()[0]
    return out


def test_an_erased_person_disappears_from_the_lake_physically(env, demo_data, make_duckling):
    from backfill import sql as sqlt

    def ch(sql, **params):
        return env.ch.query(sqlt.Template("test", sql), {"team_id": 11, **params})

    make_duckling(11)
    for day in DAYS:
        run_partition(env, 11, day, run_id=f"e-{day}")
    run_partition(env, 11, DAYS[-1], kind="persons_full", run_id="p-full")
    # the demo's own deleted persons are propagated first: the watermark moves past them
    maintain_duckling(11, Policy(), RunInfo("duckling_maintenance", "m0"), env)
    [victim] = ch(PERSON_WITH_EVENTS)
    person_id = victim["person_id"]
    distinct_ids = [r["distinct_id"] for r in ch(DISTINCT_IDS, person_id=person_id)]
    with _lake(env, 11) as lake:
        others_before = lake.con.execute(
            "SELECT CAST(person_id AS VARCHAR), count(*) FROM lake.main.events GROUP BY ALL ORDER BY 1"
        ).fetchall()
        files_before = set(lake.referenced_files())
        before = _rows_of(lake, person_id, distinct_ids)
        assert before["events"] == victim["n"] > 0
        assert any(n for k, n in before.items() if k.startswith("s3://")), (
            "the probe sees their rows in files"
        )

    ch(DELETE_PERSON, person_id=person_id)  # the erasure request: the person and their events
    ch(DELETE_EVENTS, person_id=person_id)
    upkeep = maintain_duckling(11, Policy(), RunInfo("duckling_maintenance", "m1"), env)
    assert upkeep["erased_persons"] == 1 and upkeep["erased_days"]

    with _lake(env, 11) as lake:
        found = _rows_of(lake, person_id, distinct_ids)
        others_after = lake.con.execute(
            "SELECT CAST(person_id AS VARCHAR), count(*) FROM lake.main.events GROUP BY ALL ORDER BY 1"
        ).fetchall()
    assert {k: n for k, n in found.items() if n} == {}, found  # no table, no live file names them
    assert others_after == [r for r in others_before if r[0] != person_id]  # everyone else unchanged
    gone = [p for p in files_before if not _exists(env, 11, p)]
    assert gone, "the files that held the erased rows were deleted"
    assert _all_referenced_exist(env, 11) == []
    expected = ch_day_counts(env, 11)  # ClickHouse no longer has their events either
    assert lake_day_counts(env, 11) == {d: expected[d] for d in DAYS}

    # the watermark moved: the next run propagates nothing again
    again = maintain_duckling(11, Policy(), RunInfo("duckling_maintenance", "m2"), env)
    assert again["erased_persons"] == 0


def test_ledger_retention_keeps_coverage_behind_a_watermark(env, demo_data, make_duckling):
    from backfill.coverage import grid
    from backfill.duckling.detect import detect_full

    make_duckling(11)
    env.state.set(11, earliest_day=DAYS[0])
    for day in DAYS[:2]:
        run_partition(env, 11, day, run_id=f"h-{day}")
    exported = run_partition(
        env, 11, DAYS[2], run_id="h-x", options=RunParams(skip_ducklake_registration=True)
    )
    policy = Policy(ledger_retention_days=MIN_LEDGER_RETENTION_DAYS, propagate_erasures=False)
    _age_ledger_rows(env, 11, days=MIN_LEDGER_RETENTION_DAYS + 1)
    upkeep = maintain_duckling(11, policy, RunInfo("duckling_maintenance", "r1"), env)
    assert upkeep["coverage_watermark"] == DAYS[1].isoformat()
    assert upkeep["ledger_rows_retired"] == 2
    left = {(r["day"], r["status"]) for r in env.ledger.rows("duckling", team_ids=[11], kind="events")}
    assert left == {(DAYS[2], "exported")}  # the export-only row protects its file: kept
    assert _exists(env, 11, exported["files"][0])

    # coverage is not forgotten: the full backfill plans only the day after the watermark...
    plan = detect_full({"kinds": ["events"], "team_ids": [11], "end_date": DAYS[2].isoformat()},
                       RunInfo("duckling_full_backfill", "f1"), env, today=DAYS[2] + dt.timedelta(days=1))  # fmt: skip
    assert [it["day"] for it in plan["items"] if it["kind"] == "events"] == [DAYS[2].isoformat()]
    # ...and the coverage page shows the retired days done
    cells = {c.day: c.state for c in grid(env.db, "duckling", DAYS[0], DAYS[1], [11]).cells}
    assert cells == {DAYS[0]: "done", DAYS[1]: "done"}
    assert lake_day_counts(env, 11) == {d: ch_day_counts(env, 11)[d] for d in DAYS[:2]}


def _age_ledger_rows(env, team: int, *, days: int) -> None:
    """Backdate a team's duckling rows, as if they were recorded ``days`` ago."""
    import sqlalchemy as sa

    t = env.db.table("ledger")
    with env.db.engine.begin() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.family == "duckling", t.c.team_id == team)
            .values(updated_at=utcnow() - dt.timedelta(days=days))
        )


def test_ledger_retention_is_bounded_by_the_settle_window(env, demo_data, make_duckling):
    """A retention inside the settle window is refused (form and Policy), and even old DONE rows of days
    the late-event check still compares against are kept: a late event there is exported, not hidden
    behind the watermark's "done"."""
    from backfill.params import ParamsError
    from backfill.settings import DUCKLING

    assert MIN_LEDGER_RETENTION_DAYS == DUCKLING.settle_days + 1
    for bad in (0, DUCKLING.settle_days):
        with pytest.raises(ParamsError, match="ledger_retention_days"):
            PARAMS.validate({"ledger_retention_days": bad})
        with pytest.raises(ParamsError, match="settle window"):
            Policy(ledger_retention_days=bad)
    assert PARAMS.validate({"ledger_retention_days": MIN_LEDGER_RETENTION_DAYS})

    # days inside the settle window, registered (rows aged past the retention): none is retired
    today = dt.datetime.now(dt.UTC).date()
    recent = [today - dt.timedelta(days=i) for i in range(DUCKLING.settle_days + 3, 0, -1)]
    make_duckling(11)
    env.state.set(11, earliest_day=recent[0])
    for day in recent:
        run_partition(env, 11, day, run_id=f"s-{day}")
    _age_ledger_rows(env, 11, days=MIN_LEDGER_RETENTION_DAYS + 5)
    policy = Policy(ledger_retention_days=MIN_LEDGER_RETENTION_DAYS, propagate_erasures=False)
    upkeep = maintain_duckling(11, policy, RunInfo("duckling_maintenance", "s1"), env)
    assert upkeep["coverage_watermark"] == recent[-1].isoformat()
    kept = {r["day"] for r in env.ledger.rows("duckling", team_ids=[11], kind="events", status="done")}
    settle_start = today - dt.timedelta(days=DUCKLING.settle_days + 2)  # yesterday's run checks after it
    assert kept == {d for d in recent if d > settle_start}, kept
    assert upkeep["ledger_rows_retired"] == len([d for d in recent if d <= settle_start])
