"""Command line: ``python -m backfill <command>`` (run with plugins/ on PYTHONPATH).

Commands
  gaps web-preagg --days-back N   per-team, per-day coverage of both pre-aggregated tables
  coverage [--png FILE]           the coverage heatmap of a family, from what the runs stored
  db upgrade|current|history      the app DB's schema: migrate the package's own tables (alembic)
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module that provides ``add_arguments(parser)`` and ``main(args) -> int``
COMMANDS = {
    "gaps": "backfill.cli_gaps",
    "coverage": "backfill.cli_coverage",
    "db": "backfill.cli_db",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backfill", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command]).main(args)


if __name__ == "__main__":
    sys.exit(main())
