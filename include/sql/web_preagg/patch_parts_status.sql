-- Can a team-day's delete be a patch part? server: the server knows lightweight_delete_mode (25.7+);
-- tables: how many of the two pre-aggregated tables keep block numbers and offsets.
SELECT
    (SELECT count() FROM system.settings WHERE name = 'lightweight_delete_mode') AS server,
    countIf(engine_full LIKE '%enable_block_number_column = 1%'
            AND engine_full LIKE '%enable_block_offset_column = 1%') AS tables
FROM system.tables
WHERE database = currentDatabase() AND name IN ('web_pre_aggregated_stats', 'web_pre_aggregated_bounces')
