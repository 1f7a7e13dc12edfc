-- Opt-in migration of the two pre-aggregated tables (python -m backfill db patch-parts --enable): keep
-- each row's block number and offset, so a lightweight DELETE is written as a patch part (ClickHouse
-- 25.7+) instead of a mutation that rewrites the team's parts. Readers and PostHog's daily job are
-- unaffected; new parts carry two hidden columns. A stale team-day's recompute then costs about what a
-- missing one does.
ALTER TABLE web_pre_aggregated_stats MODIFY SETTING enable_block_number_column = 1, enable_block_offset_column = 1;
ALTER TABLE web_pre_aggregated_bounces MODIFY SETTING enable_block_number_column = 1, enable_block_offset_column = 1;
