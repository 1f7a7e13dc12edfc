"""Airflow plugin: the backfill coverage page (a FastAPI app on the api-server, and a link to it in the
UI's Browse menu). Registered through the ``airflow.plugins`` entry point of the installed package
(pyproject.toml), so no file of the package sits in a plugins folder."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from backfill.coverage_app import PREFIX, create_app


class BackfillCoveragePlugin(AirflowPlugin):
    name = "backfill_coverage"
    fastapi_apps = [{"app": create_app(), "url_prefix": PREFIX, "name": "Backfill coverage"}]
    external_views = [
        {
            "name": "Backfill coverage",
            "href": f"{PREFIX}/coverage",
            "destination": "nav",
            "category": "browse",
            "url_route": "backfill-coverage",
        }
    ]
