"""Command line: ``python -m backfill <command>`` (run with plugins/ on PYTHONPATH).

Commands
  gaps web-preagg --days-back N   per-team, per-day coverage of both pre-aggregated tables
  coverage [--png FILE]           the coverage heatmap of a family, from what the runs stored
  db upgrade|current|history      the app DB's schema: migrate the package's own tables (alembic)
"""

from __future__ import annotations

import sys

from backfill.cli import dispatch

# command name -> module that provides ``add_arguments(parser)`` and ``main(args) -> int``
COMMANDS = {
    "gaps": "backfill.cli_gaps",
    "coverage": "backfill.cli_coverage",
    "db": "backfill.cli_db",
}


def main(argv: list[str] | None = None) -> int:
    return dispatch("python -m backfill", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
