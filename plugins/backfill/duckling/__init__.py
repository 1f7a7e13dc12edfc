"""Ducklings: each team's events and persons exported from ClickHouse to its own DuckLake, exactly once.

registry.py     the duckling_registry row of a team, validated (remote PostgreSQL catalog | local file)
credentials.py  S3 access from aws_default (optionally STS assume_role), secrets masked
errors.py       transient vs permanent faults (ClickHouse codes/text, DuckDB, S3) and the retry policy
export.py       ClickHouse -> S3 Parquet, one unique file per attempt
schema.py       the lake tables (columns, types, partitioning) and the pre-flight check
lake.py         DuckDB + DuckLake: attach, create tables, register a day, merge persons, counts
plan.py         options (the DAG params), day selection, what to do this run (pure functions)
orphans.py      files under a team-day prefix that the catalog never referenced
tasks.py        the task bodies the DAG file wires together
demo.py         register a demo duckling (local catalog) and summarise what landed
"""
