"""Benchmark: how much the package's orchestration adds to the bare engines, for one duckling team-day.

Measures, in ONE run on the same data (a team-day of ~100k events) and the same real services:
  bare export     the export statement alone (``include/sql/duckling/export_events.sql``, one chdb
                  ``INSERT INTO FUNCTION s3(...) SELECT ...`` of the team-day, one row per uuid)
  package export  ``Exporter.events(day)`` (count, export with a fresh key, read back the file's count)
  bare register   ``BEGIN; DELETE day; ducklake_add_data_files; COMMIT`` on an attached PostgreSQL catalog
  package register  ``open_lake`` (one attach) + ``register_events`` (path guard) + lake count check
and prints the medians and the ratios package / bare. Ratios, not absolute times, are the result:
these machines are shared and noisy.

Run: ``make bench`` (or ``PYTHONPATH=plugins .venv/bin/python scripts/benchmark.py --repeat 7``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from backfill import duckdb_conn  # noqa: E402
from backfill import sql as sqlt  # noqa: E402
from backfill.clickhouse import ClickHouse  # noqa: E402
from backfill.clickhouse_schema import create_clickhouse_schema  # noqa: E402
from backfill.duckling.credentials import S3Access  # noqa: E402
from backfill.duckling.export import Exporter  # noqa: E402
from backfill.duckling.lake import open_lake  # noqa: E402
from backfill.duckling.registry import Duckling  # noqa: E402
from devtools import demo_data as demo  # noqa: E402
from devtools import localstack  # noqa: E402

DAY = dt.date(2024, 3, 1)
TEAM = 1
COUNT_DAY = sqlt.Template(
    "bench_count",
    """SELECT count() AS n FROM events WHERE team_id = {team_id:Int64}
       AND toDate(timestamp, 'UTC') = {day:Date}""",
)


def timed(fn, repeat: int) -> tuple[float, list]:
    samples, results = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        results.append(fn())
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=63000, help="demo sessions/day (~100k events)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    pg = localstack.start_postgres(work / "pg")
    s3 = localstack.start_moto(work / "moto.log")
    try:
        ch = ClickHouse.embedded(str(work / "chdb"))
        create_clickhouse_schema(ch)
        demo.generate(
            ch,
            demo.DemoSpec(
                team_ids=(TEAM,), start_day=DAY, days=1, sessions_per_day=args.sessions, persons_per_team=1000
            ),
        )
        events = ch.scalar(COUNT_DAY, {"team_id": TEAM, "day": DAY})
        s3.client().create_bucket(Bucket="bench")
        pg.create_database("bench_catalog")
        duckling = Duckling(
            team_id=TEAM,
            bucket="bench",
            bucket_region=s3.region,
            db_host="127.0.0.1",
            db_port=pg.port,
            db_database="bench_catalog",
            db_username="postgres",
        )
        access = S3Access(
            key_id=s3.access_key,
            secret=s3.secret_key,
            session_token=None,
            region=s3.region,
            endpoint_url=s3.endpoint,
        )
        print(
            f"team-day: {events:,} events; engines: chdb {ch.scalar(sqlt.Template('v', 'SELECT version() AS v'))}, "
            f"moto S3 at {s3.endpoint}, PostgreSQL catalog on port {pg.port}"
        )

        # --- export ---------------------------------------------------------------------------
        counter = iter(range(10_000))

        def bare_export():
            key = f"bare/events-{next(counter)}.parquet"
            # the package's own export statement (one row per uuid), alone: the engine's share of the task
            ch.query(
                "duckling/export_events",
                {
                    "url": f"{s3.endpoint}/bench/{key}",
                    "key_id": s3.access_key,
                    "secret": s3.secret_key,
                    "session_token": "",
                    "team_id": TEAM,
                    "day": DAY,
                },
            )
            return f"s3://bench/{key}"

        exporter = Exporter(ch, access, duckling, run_id="bench", try_number=1, dag_id="bench")
        t_bare_export, bare_files = timed(bare_export, args.repeat)
        t_pkg_export, pkg_results = timed(lambda: exporter.events(DAY), args.repeat)
        assert all(r.source_count == events for r in pkg_results), "package export lost rows"

        # --- register -------------------------------------------------------------------------
        con = duckdb_conn.connect()
        con.execute(access.duckdb_secret_sql("bench"))
        con.execute(
            f"ATTACH 'ducklake:postgres:{pg.conninfo('bench_catalog')}' AS bare (DATA_PATH 's3://bench/')"
        )
        con.execute("CREATE TABLE bare.events AS SELECT * FROM read_parquet(?) LIMIT 0", [bare_files[0]])
        bare_iter = iter(bare_files)

        def bare_register():
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM bare.events WHERE team_id = ?", [TEAM])
            con.execute("CALL ducklake_add_data_files('bare', 'events', ?)", [next(bare_iter)])
            con.execute("COMMIT")

        t_bare_register, _ = timed(bare_register, args.repeat)
        assert con.execute("SELECT count(*) FROM bare.events").fetchone()[0] == events

        pg.create_database("bench_pkg_catalog")
        pkg_duckling = Duckling(
            team_id=TEAM,
            bucket="bench",
            bucket_region=s3.region,
            db_host="127.0.0.1",
            db_port=pg.port,
            db_database="bench_pkg_catalog",
            db_username="postgres",
        )
        more = [exporter.events(DAY).files for _ in range(args.repeat)]
        pkg_iter = iter([r.files for r in pkg_results] + more)
        with open_lake(pkg_duckling, access) as lake:
            lake.ensure_tables("events", create_if_missing=True, validate=True, day=DAY)

        def package_register():
            with open_lake(pkg_duckling, access) as lake:
                lake.register_events(DAY, next(pkg_iter))
                return lake.events_day_count(DAY)

        half = max(1, args.repeat // 2 + 1)
        t_pkg_register, counts = timed(package_register, half)

        def attach_only():
            with open_lake(pkg_duckling, access):
                pass

        t_attach, _ = timed(attach_only, args.repeat)
        with open_lake(pkg_duckling, access) as lake:
            t_register_work, counts2 = timed(
                lambda: (lake.register_events(DAY, next(pkg_iter)), lake.events_day_count(DAY))[1], half
            )
        assert all(c == (events, events) for c in counts + counts2), counts + counts2
    finally:
        ClickHouse.embedded(str(work / "chdb")).close()
        s3.stop()
        pg.stop()

    print()
    print(f"{'step':<34} {'bare engine':>12} {'package':>12} {'ratio':>7}")
    rows = (
        ("export (whole task body)", t_bare_export, t_pkg_export),
        ("register: guarded txn + count check", t_bare_register, t_register_work),
        ("register (whole task body)", t_bare_register, t_pkg_register),
    )
    for name, bare, pkg in rows:
        print(f"{name:<34} {bare * 1000:>9.0f} ms {pkg * 1000:>9.0f} ms {pkg / bare:>6.2f}x")
    print(
        f"{'  of which: connect + load extensions + attach':<47} {t_attach * 1000:>9.0f} ms  (once per task)"
    )
    print(
        f"\nmedians of {args.repeat} runs (whole-task register: {half}); the bare register runs on an "
        "already attached catalog"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
