-- A task-private staging table with exactly the target's columns (same names, types and order), as a
-- plain local MergeTree: it lives only on the node this task is connected to (never ON CLUSTER), and a
-- replicated target's engine and replica path are not copied.
CREATE TABLE {staging:Identifier} AS web_pre_aggregated_bounces ENGINE = MergeTree ORDER BY tuple()
