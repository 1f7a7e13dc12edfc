"""The app DB's schema under alembic, on a real PostgreSQL server and on SQLite.

What a deployment meets: a fresh database; a database made by the pre-alembic ``create_schema`` full of
ledger rows; a database at the baseline revision; one shared with Airflow's own metadata (its own
``alembic_version``); and an application that owns ``posthog_team`` with many more columns.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import uuid

import pytest
import sqlalchemy as sa

from backfill import app_tables, migrations
from backfill.appdb import AppDB, AppDBSchemaError
from backfill.coverage import CoverageStore
from backfill.ledger import DONE, Ledger, PartitionKey
from devtools import appdb_setup

BASELINE = importlib.import_module("backfill.migrations.versions.0001_baseline")
DAY = dt.date(2026, 3, 1)
AT = dt.datetime(2026, 3, 2, 6, 0)

# The application's own posthog_team has far more columns than the package reads.
APPLICATION_TEAM_DDL = """
CREATE TABLE posthog_team (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    web_analytics_pre_aggregated_tables_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    api_token TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC'
)
"""


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_db(request, pg, tmp_path):
    """A new, empty app DB holding only the application's tables."""
    if request.param == "postgresql":
        name = f"mig_{uuid.uuid4().hex[:10]}"
        pg.create_database(name)
        db = AppDB.from_url(pg.url(name))
    else:
        db = AppDB.from_url(f"sqlite:///{tmp_path / 'app.sqlite'}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(APPLICATION_TEAM_DDL)
        conn.exec_driver_sql(
            "INSERT INTO posthog_team VALUES (7, 'Team seven', TRUE, 'phc_secret', 'Europe/Paris')"
        )
    appdb_setup.create_application_tables(db)  # duckling_registry (posthog_team exists already)
    yield db
    db.engine.dispose()


def _statements_during(db: AppDB, fn) -> list[str]:
    """Every SQL statement ``fn`` sends to the database."""
    seen: list[str] = []

    def record(conn, cursor, statement, *_):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return seen


def _tables(db: AppDB, schema: str | None = None) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names(schema=schema))


def _legacy_rows(conn: sa.Connection) -> None:
    """Rows in the baseline (pre-alembic) tables, written with plain SQL as the old package did."""
    conn.execute(
        sa.text(
            "INSERT INTO backfill_ledger (family, team_id, day, kind, status, attempts, source_count,"
            " target_count, files, detail, updated_at) VALUES"
            " ('duckling', 7, :day, 'events', 'done', 1, 1200, 1200, :files, :detail, :at),"
            " ('duckling', 7, :day2, 'events', 'exported', 2, 30, NULL, :files2, NULL, :at)"
        ),
        {
            "day": DAY,
            "day2": DAY + dt.timedelta(days=1),
            "files": json.dumps(["team_id=7/year=2026/month=03/day=01/a.parquet"]),
            "files2": json.dumps(["team_id=7/year=2026/month=03/day=02/b.parquet"]),
            "detail": json.dumps({"clickhouse": {"rows_read": 1200}}),
            "at": AT,
        },
    )
    conn.execute(
        sa.text(
            "INSERT INTO backfill_coverage (family, team_id, day, source_count, target_count,"
            " observed_state, observed_at, dag_id, run_id) VALUES"
            " ('web_preagg', 7, :day, 340, 0, 'missing', :at, 'web_preagg_backfill', 'scheduled__x')"
        ),
        {"day": DAY, "at": AT},
    )
    conn.execute(
        sa.text("INSERT INTO duckling_team_state (team_id, earliest_day) VALUES (7, :day)"), {"day": DAY}
    )


def _assert_legacy_rows_intact(db: AppDB) -> None:
    ledger = Ledger(db)
    rows = ledger.rows("duckling")
    assert [(r["team_id"], r["day"], r["status"], r["source_count"], r["attempts"]) for r in rows] == [
        (7, DAY, "done", 1200, 1),
        (7, DAY + dt.timedelta(days=1), "exported", 30, 2),
    ]
    assert json.loads(rows[0]["files"]) == ["team_id=7/year=2026/month=03/day=01/a.parquet"]
    assert json.loads(rows[0]["detail"]) == {"clickhouse": {"rows_read": 1200}}
    cov = CoverageStore(db).rows("web_preagg", DAY, DAY)
    assert [(c["team_id"], c["source_count"], c["observed_state"], c["run_id"]) for c in cov] == [
        (7, 340, "missing", "scheduled__x")
    ]
    with db.engine.connect() as conn:
        state = conn.execute(sa.select(db.table("duckling_team_state"))).all()
    assert [(s.team_id, s.earliest_day) for s in state] == [(7, DAY)]
    # the package works on the moved tables: a new claim, and the primary key still guards the old one
    key = PartitionKey("duckling", 7, DAY + dt.timedelta(days=2), "events")
    assert ledger.claim(key, "run-new", lease_seconds=60)
    ledger.succeed(key, "run-new", source_count=5, target_count=5)
    assert ledger.rows("duckling", kind="events", status=DONE)[-1]["day"] == key.day
    index_names = {i["name"] for i in sa.inspect(db.engine).get_indexes(*db.physical_name("ledger"))}
    assert {"backfill_ledger_status", "backfill_ledger_updated"} <= index_names


def _application_tables_untouched(db: AppDB, statements: list[str]) -> None:
    for statement in statements:
        lowered = statement.lower()
        assert "posthog_team" not in lowered and "duckling_registry" not in lowered, statement
    with db.engine.connect() as conn:
        team = conn.exec_driver_sql("SELECT id, name, api_token, timezone FROM posthog_team").all()
    assert [tuple(t) for t in team] == [(7, "Team seven", "phc_secret", "Europe/Paris")]


def test_a_fresh_app_db_gets_the_package_tables_in_their_own_namespace(empty_db):
    db = empty_db
    statements = _statements_during(db, db.migrate)
    assert migrations.current(db.engine) == migrations.head()
    if db.dialect == "postgresql":
        assert _tables(db, "backfill") == {"alembic_version", "ledger", "coverage", "duckling_team_state"}
        assert _tables(db) == {"posthog_team", "duckling_registry"}, "nothing of the package in public"
    else:
        assert _tables(db) == {
            "posthog_team",
            "duckling_registry",
            "backfill_alembic_version",
            "backfill_ledger",
            "backfill_coverage",
            "backfill_duckling_team_state",
        }
    _application_tables_untouched(db, statements)
    # migrating again is a no-op
    assert not [
        s for s in _statements_during(db, db.migrate) if s.lstrip().upper().startswith(("CREATE", "ALTER"))
    ]


@pytest.mark.parametrize("start", ["pre-alembic create_schema", "baseline revision"])
def test_an_existing_app_db_upgrades_in_place_with_its_data(empty_db, start):
    db = empty_db
    with db.engine.begin() as conn:
        if start == "baseline revision":
            pass
        else:  # exactly what the old create_schema ran: the baseline DDL, and no version table
            for statement in BASELINE.STATEMENTS:
                conn.exec_driver_sql(statement)
    if start == "baseline revision":
        db.migrate("0001")
        assert migrations.current(db.engine) == "0001"
    else:
        assert migrations.current(db.engine) is None
    with db.engine.begin() as conn:
        _legacy_rows(conn)

    statements = _statements_during(db, db.migrate)

    assert migrations.current(db.engine) == migrations.head()
    _assert_legacy_rows_intact(db)
    _application_tables_untouched(db, statements)
    legacy = {"backfill_ledger", "backfill_coverage", "duckling_team_state"}
    if db.dialect == "postgresql":
        assert not legacy & _tables(db), "the old tables left the public schema"
    else:
        assert "duckling_team_state" not in _tables(db)


def test_a_downgrade_to_the_baseline_and_back_keeps_the_data(empty_db):
    db = empty_db
    db.migrate("0001")
    with db.engine.begin() as conn:
        _legacy_rows(conn)
    db.migrate()
    migrations.downgrade(db.engine, "0001")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM backfill_ledger").scalar() == 2
    db.migrate()
    _assert_legacy_rows_intact(AppDB(db.engine))


def test_an_app_db_shared_with_airflow_keeps_airflow_s_version_table(pg):
    """A small deployment may put the app tables in Airflow's metadata database: two alembic
    histories, one ``alembic_version`` each."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    pg.create_database(name)
    db = AppDB.from_url(pg.url(name))
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('airflow_rev_3_3')")
    appdb_setup.prepare(db)
    with db.engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT version_num FROM public.alembic_version").scalar()
            == "airflow_rev_3_3"
        )
        assert conn.exec_driver_sql("SELECT version_num FROM backfill.alembic_version").scalar() == "0002"
    db.engine.dispose()


def test_an_unmigrated_or_older_app_db_says_what_to_run(empty_db):
    db = empty_db
    with pytest.raises(
        AppDBSchemaError, match=r"not migrated \(no package tables\): run `python -m backfill db upgrade`"
    ):
        Ledger(db).rows("duckling")
    with db.engine.connect() as conn:  # the application's tables need no migration
        assert conn.execute(sa.select(db.table("posthog_team").c.name)).scalar() == "Team seven"
    db.migrate("0001")
    with pytest.raises(
        AppDBSchemaError, match=r"at revision 0001, this code needs 0002: run `python -m backfill db upgrade`"
    ):
        Ledger(AppDB(db.engine)).rows("duckling")
    db.migrate()
    assert Ledger(AppDB(db.engine)).rows("duckling") == []


def test_the_declared_tables_match_the_migrated_database(empty_db):
    """The code declares the tables (no reflection per task); the migrations create them. Reflect a
    migrated database and compare: names, columns, types, nullability, primary keys."""
    db = empty_db
    db.migrate()
    assert migrations.REVISIONS == tuple(r for r, _ in migrations.history())
    assert migrations.HEAD == migrations.head()
    inspector = sa.inspect(db.engine)
    for name, declared in app_tables.tables(db.dialect).items():
        physical, schema = db.physical_name(name)
        assert (declared.name, declared.schema) == (physical, schema)
        real = {c["name"]: c for c in inspector.get_columns(physical, schema=schema)}
        for column in declared.columns:
            assert column.name in real, f"{name}.{column.name} is declared but not in the database"
            found = real[column.name]
            assert found["type"]._type_affinity is column.type._type_affinity, (
                name,
                column.name,
                found["type"],
            )
            if name in app_tables.PACKAGE_TABLES and not column.primary_key:  # SQLite: a PK may be NULL
                assert found["nullable"] == column.nullable, (name, column.name)
        if name in app_tables.PACKAGE_TABLES:
            assert set(real) == {c.name for c in declared.columns}, f"{name}: columns differ"
        pk = inspector.get_pk_constraint(physical, schema=schema)["constrained_columns"]
        assert pk == [c.name for c in declared.primary_key.columns], name


def test_the_command_line_upgrades_and_reports(pg, monkeypatch, capsys):
    from backfill.__main__ import main

    name = f"mig_{uuid.uuid4().hex[:10]}"
    pg.create_database(name)
    monkeypatch.setenv("AIRFLOW_CONN_POSTHOG_DB", f"postgres://postgres@127.0.0.1:{pg.port}/{name}")
    assert main(["db", "current"]) == 1, "behind head: a non-zero exit a deploy script can check"
    assert "not versioned" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "not versioned -> 0002" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert "0002 (package head: 0002)" in capsys.readouterr().out
    assert main(["db", "history"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("0001  Baseline")
