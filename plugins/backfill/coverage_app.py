"""The coverage page's web app, mounted by the api-server under ``/backfill`` (``airflow_plugin.py``).

  GET /backfill/coverage        the heatmap (HTML), filters: family, start, end, teams
  GET /backfill/api/coverage    the same grid as JSON (states, counts, cells, ClickHouse cost)

Plugin apps are mounted WITHOUT Airflow's authentication, so every route here depends on an access check:
a user authenticated by Airflow (its JWT, as a bearer token or the UI's cookie) who may read the DAG
of the family (web_preagg_backfill, duckling_backfill). Anonymous: 401; no access to the DAG: 403. It
reads the app DB only (coverage + ledger), never ClickHouse.
"""

# no `from __future__ import annotations`: FastAPI reads these annotations at runtime, and some are local
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from backfill.airflow_plugin import PREFIX
from backfill.coverage import FAMILIES, GridTooLarge, grid, upkeep
from backfill.coverage_view import Query as CoverageQuery
from backfill.coverage_view import render_html
from backfill.settings import OBSERVABILITY


def _parse(family: str | None = None, start: str | None = None, end: str | None = None,
           teams: str | None = None) -> CoverageQuery:  # fmt: skip
    try:
        return CoverageQuery.parse(family, start, end, teams)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def _access_dependency():
    from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag

    def check(
        request: Request, user: GetUserDep, query: Annotated[CoverageQuery, Depends(_parse)]
    ) -> CoverageQuery:
        requires_access_dag("GET", param_dag_id=FAMILIES[query.family][1])(request, user)
        return query

    return check


def _open_db():
    from backfill.appdb import AppDB

    return AppDB.from_conn_id()


def create_app(open_db=_open_db) -> FastAPI:
    app = FastAPI(title="Backfill coverage", docs_url=None, redoc_url=None, openapi_url=None)
    Allowed = Annotated[CoverageQuery, Depends(_access_dependency())]

    def load(query: CoverageQuery):
        with open_db() as db:
            try:
                g = grid(
                    db,
                    query.family,
                    query.start,
                    query.end,
                    query.team_ids,
                    max_cells=OBSERVABILITY.coverage_max_cells,
                )
            except GridTooLarge as exc:
                raise HTTPException(status_code=400, detail=str(exc)) from None
            ducklings = upkeep(db, g.team_ids) if query.family == "duckling" else []
        return g, ducklings

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/coverage")

    @app.get("/coverage", response_class=HTMLResponse)
    def coverage_page(query: Allowed) -> HTMLResponse:
        g, ducklings = load(query)
        return HTMLResponse(render_html(g, query, f"{PREFIX}/coverage", ducklings))

    @app.get("/api/coverage")
    def coverage_json(query: Allowed) -> dict:
        g, ducklings = load(query)
        return {**g.to_dict(), **({"upkeep": ducklings} if query.family == "duckling" else {})}

    return app
