"""Asset events of a web_preagg run under dag.test(): one per table per recomputed team-day, with the
team and the day in its extra, and none for a dry run (the control)."""

from __future__ import annotations

from test_dag import CONF, run

from backfill.assets import WEB_PREAGG_RECOMPUTES, web_preagg_asset
from backfill.ledger import DONE
from backfill.web_preagg import FAMILY, TABLES


def _events(run_id: str | None = None) -> list[tuple[str, dict]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        stmt = select(AssetModel.uri, AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        if run_id:
            stmt = stmt.where(AssetEvent.source_run_id == run_id)
        return [(uri, dict(extra or {})) for uri, extra in session.execute(stmt)]


def test_each_recompute_emits_an_event_per_table(world, ledger, connections, dag):
    dr, states = run(dag, {**CONF, "team_ids": [1], "min_missing_partitions": 1})
    assert str(dr.state) == "success", states
    done = sorted((r["team_id"], str(r["day"])) for r in ledger.rows(FAMILY) if r["status"] == DONE)
    assert done
    events = _events(dr.run_id)
    for table in TABLES:
        got = sorted((e["team_id"], e["day"]) for uri, e in events if uri == web_preagg_asset(table).uri)
        assert got == done, table
    assert {uri for uri, _ in events} == {web_preagg_asset(t).uri for t in TABLES}

    from airflow.models.asset import AssetAliasModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:  # the events came through the alias downstream DAGs can use
        alias = session.scalars(
            select(AssetAliasModel).where(AssetAliasModel.name == WEB_PREAGG_RECOMPUTES.name)
        ).one()
        assert {a.uri for a in alias.assets} == {web_preagg_asset(t).uri for t in TABLES}


def test_a_dry_run_emits_nothing(world, ledger, connections, dag):
    dr, states = run(dag, {**CONF, "team_ids": [1], "min_missing_partitions": 1, "dry_run": True})
    assert str(dr.state) == "success", states
    assert _events(dr.run_id) == []
