"""The one command dispatcher of ``python -m backfill`` (and of the repository's ``python -m devtools``):
each command is a module with ``add_arguments(parser)`` and ``main(args) -> int``, imported on use."""

from __future__ import annotations

import argparse
import importlib


def dispatch(prog: str, doc: str, commands: dict[str, str], argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return importlib.import_module(commands[args.command]).main(args)
