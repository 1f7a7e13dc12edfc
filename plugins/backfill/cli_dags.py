"""DAG files: copy the installed package's thin DAG files into a deployment's DAGs folder.

  backfill dags install FOLDER [--force]   write the DAG files
  backfill dags list                       the DAG files the package ships
  backfill dags pools > pools.json         the pools they use, for ``airflow pools import pools.json``

The DAG files only wire tasks to the installed package, so a release upgrade is ``pip install`` plus
this command. An existing file that differs is left alone unless ``--force``: a deployment may have
edited it, and a silent overwrite would lose that.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    install = sub.add_parser("install", help="copy the DAG files into FOLDER")
    install.add_argument("folder", type=Path, help="the deployment's DAGs folder ([core] dags_folder)")
    install.add_argument("--force", action="store_true", help="overwrite files that differ")
    sub.add_parser("list", help="the DAG files the package ships")
    sub.add_parser("pools", help="the pools the DAGs use, as `airflow pools import` reads them")


def dag_files() -> list[Path]:
    from backfill.settings import DAGS_DIR

    return sorted(DAGS_DIR.glob("*.py"))


def main(args: argparse.Namespace) -> int:
    from backfill.settings import POOLS_FILE

    if args.action == "pools":
        print(POOLS_FILE.read_text(), end="")
        return 0
    if args.action == "list":
        for path in dag_files():
            print(path.name)
        return 0
    args.folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for source in dag_files():
        target = args.folder / source.name
        if target.exists() and target.read_bytes() != source.read_bytes() and not args.force:
            kept.append(target.name)
            continue
        shutil.copyfile(source, target)
        print(f"wrote {target}")
    if kept:
        print(f"left alone (they differ; --force overwrites): {', '.join(kept)}")
        return 1
    return 0
