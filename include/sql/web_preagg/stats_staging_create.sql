-- A task-private staging table with exactly the target's structure (same column order, engine, keys).
CREATE TABLE {staging:Identifier} AS web_pre_aggregated_stats
