"""Development commands: ``python -m devtools <command>`` (repository root and plugins/ on PYTHONPATH).

Commands
  demo      generate demo data into .local and run both DAG families end to end (make demo)
  airflow   a local Airflow on the embedded stores until Ctrl-C (make airflow)
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {"demo": "devtools.demo", "airflow": "devtools.airflow_up"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command]).main(args)


if __name__ == "__main__":
    sys.exit(main())
