"""Command line: ``backfill <command>`` (the installed console script) or ``python -m backfill``.

Commands
  gaps web-preagg --days-back N   per-team, per-day coverage of both pre-aggregated tables
  coverage [--png FILE]           the coverage heatmap of a family, from what the runs stored
  db upgrade|current|history      the app DB's schema: migrate the package's own tables (alembic)
  dags install|list|pools         the package's DAG files into a DAGs folder; the pools they use

The one dispatcher is shared with the repository's ``python -m devtools``: each command is a module
with ``add_arguments(parser)`` and ``main(args) -> int``, imported on use.
"""

from __future__ import annotations

import argparse
import importlib

# command name -> module that provides ``add_arguments(parser)`` and ``main(args) -> int``
COMMANDS = {
    "gaps": "backfill.cli_gaps",
    "coverage": "backfill.cli_coverage",
    "db": "backfill.cli_db",
    "dags": "backfill.cli_dags",
}


def dispatch(prog: str, doc: str, commands: dict[str, str], argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return importlib.import_module(commands[args.command]).main(args)


def main(argv: list[str] | None = None) -> int:
    use_deployment_connections()
    return dispatch("backfill", __doc__, COMMANDS, argv)


def use_deployment_connections() -> None:
    """Find connections where the deployment keeps them: environment variables, the configured secrets
    backend, and Airflow's metadata DB (connections made in the UI or the REST API). Airflow's task SDK
    reads the metadata DB only in a process that says it is a server-side one, as ``airflow`` commands
    are; this command is (it runs beside the scheduler, with the deployment's airflow.cfg)."""
    import os

    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")
