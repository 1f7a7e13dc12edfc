"""A duckling's partition kinds and its S3 layout: what export writes and lake, orphans and upkeep read.

Object keys: ``backfill/{dataset}/team_id={T}/year={YYYY}/month={MM}/day={DD}/{file}.parquet`` where
dataset is ``events``, ``persons``, ``person_distinct_ids`` (daily changes) or ``persons_full`` /
``person_distinct_ids_full`` (snapshot), and ``{file}`` = sanitized run id + try number + a fresh random
suffix, new for every in-task retry as well: an export never overwrites a key.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from backfill.families import DUCKLING

EVENTS, PERSONS, PERSONS_FULL, HISTORY = DUCKLING.kinds
KINDS = (EVENTS, PERSONS, PERSONS_FULL)  # the kinds a partition (one mapped task pair) can be

# the persons staging files (merged row by row into the lake, then deleted): their S3 prefixes
STAGING_PREFIXES = ("backfill/persons", "backfill/person_distinct_ids")
STAGING_DATASETS = {
    PERSONS: ("persons", "person_distinct_ids"),
    PERSONS_FULL: ("persons_full", "person_distinct_ids_full"),
}


def file_name(run_id: str, try_number: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", run_id).strip("_")[:80] or "run"
    return f"{safe}-try{int(try_number)}-{uuid.uuid4().hex[:8]}"


def object_key(dataset: str, team_id: int, day: dt.date, name: str) -> str:
    return (
        f"backfill/{dataset}/team_id={int(team_id)}/year={day.year:04d}/month={day.month:02d}/"
        f"day={day.day:02d}/{name}.parquet"
    )


def day_prefix(dataset: str, team_id: int, day: dt.date) -> str:
    return object_key(dataset, team_id, day, "x")[: -len("x.parquet")]


def split_person_files(files: list[str]) -> tuple[list[str], list[str]]:
    persons = [f for f in files if "/backfill/persons" in f]
    distinct = [f for f in files if "/backfill/person_distinct_ids" in f]
    return persons, distinct
