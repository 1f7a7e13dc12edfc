"""Ducklings: each team's events and persons exported from ClickHouse to its own DuckLake, exactly once.

registry.py     the duckling_registry row of a team, validated (remote PostgreSQL catalog | local file)
credentials.py  S3 access from aws_default (optionally STS assume_role), secrets masked
errors.py       transient vs permanent faults (ClickHouse codes/text, DuckDB, S3) and the retry policy
layout.py       the partition kinds and the S3 key layout export writes and the others read
params.py       the DAG params (form and validation); plan.py: what to do this run (pure functions)
detect.py       the plan of a daily or full run; state.py: each team's earliest day
export.py       ClickHouse -> S3 Parquet, one unique file per attempt
schema.py       the lake tables (columns, types, partitioning) and the pre-flight check
attach.py       the catalog's ATTACH, its password kept in a private passfile, redaction
lake.py         DuckDB + DuckLake: attach, create tables, register a day, merge persons, counts
register.py     one DuckLake transaction per partition, checked against the export
report.py       the run's outcome; orphans.py and referenced.py: files no catalog references, and
                the files no cleanup may delete
run.py          the shared Env with the duckling's stores; failures as DucklingError
tasks.py        the task bodies the DAG file wires together
"""
