"""Development commands: ``python -m devtools <command>`` (repository root and plugins/ on PYTHONPATH).

Commands
  demo      generate demo data into .local and run both DAG families end to end (make demo)
  airflow   a local Airflow on the embedded stores until Ctrl-C (make airflow)
"""

from __future__ import annotations

import sys

from backfill.cli import dispatch

COMMANDS = {"demo": "devtools.demo", "airflow": "devtools.airflow_up"}


def main(argv: list[str] | None = None) -> int:
    return dispatch("python -m devtools", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
