"""The upkeep family (the ``duckling_maintenance`` DAG): per duckling, erasure, compaction, snapshot
expiry, file cleanup and ledger retention. Modules: policy (params), maintain (one duckling),
lake_upkeep (the operations on an attached lake), tasks (the DAG's task bodies).

Safe by construction (PostHog PR #46931 deleted referenced files):
  * files are deleted only by DuckLake's own ``ducklake_cleanup_old_files``, which deletes only files
    that left every snapshot (scheduled for deletion) — never this package's orphan logic, and never
    ``ducklake_delete_orphaned_files`` (it would delete in-flight and export-only files under DATA_PATH);
  * only files scheduled for deletion more than ``cleanup_margin_hours`` ago: a reader on an older
    snapshot or a registration in flight keeps its files;
  * a dry run first: if any candidate is a file the ledger still protects (``referenced.py``), nothing is
    deleted this run and the report says why;
  * snapshots younger than ``keep_snapshot_days`` are kept (time travel).
Compaction: the persons tables (written by DuckLake in small merges) through
``ducklake_merge_adjacent_files``, within each partition; the events table holds one file per team-day
unless append mode (or a registration next to an earlier rewrite) left several, and only such days are
rewritten as one file (found from the catalog's partition values; DuckLake's compactor refuses the
externally registered hive paths).
"""
