"""Airflow plugin: the backfill coverage page (a FastAPI app on the api-server, and a link to it in the
UI's Browse menu). Registered through the ``airflow.plugins`` entry point of the installed package
(pyproject.toml), so no file of the package sits in a plugins folder.

Every task process loads every plugin (Airflow integrates plugin macros into each task's context), so
this module stays light: the page's app (FastAPI, the coverage code, Jinja2) is built on its first
request, on the api-server only. Importing it eagerly cost each task ~1.3 s and ~640 modules."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

PREFIX = "/backfill"


class CoverageApp:
    """An ASGI app that builds the coverage page's FastAPI app when it is first called."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self._app is None:
            from backfill.coverage_app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class BackfillCoveragePlugin(AirflowPlugin):
    name = "backfill_coverage"
    fastapi_apps = [{"app": CoverageApp(), "url_prefix": PREFIX, "name": "Backfill coverage"}]
    external_views = [
        {
            "name": "Backfill coverage",
            "href": f"{PREFIX}/coverage",
            "destination": "nav",
            "category": "browse",
            "url_route": "backfill-coverage",
        }
    ]
