-- Coverage of both pre-aggregated tables for teams {team_ids} over the days [start_day, end_day]
-- (inclusive), in ONE query. One row per (team, day, table) where the team had web traffic that day
-- (source_pageviews > 0: the events the inserts count, fragments/counted_events.sql: $pageview and $screen
-- events of sessions that STARTED that day, the rule stats_insert.sql / bounces_insert.sql use) or the
-- table holds rows.
--   expected but absent (missing):  source_pageviews > 0 AND target_rows = 0
--   present:                        target_rows > 0 (target_pageviews = sumMerge of its pageviews)
-- Days without traffic and without rows are not returned, so they are never reported missing.
-- Only events ingested by {as_of} (_timestamp) are read: a recompute and its verification then count
-- the same events while ingestion goes on (late events make the team-day stale for the next run).
WITH
    source AS
    (
        SELECT team_id, toDate(start_timestamp, 'UTC') AS day, count() AS source_pageviews
        FROM
        (
@include(web_preagg/fragments/counted_events)
        )
        GROUP BY team_id, day
    ),
    stats AS
    (
        SELECT toInt64(team_id) AS team_id, toDate(period_bucket, 'UTC') AS day, count() AS target_rows,
               sumMerge(pageviews_count_state) AS target_pageviews
        FROM web_pre_aggregated_stats
        WHERE team_id IN {team_ids:Array(Int64)}
          AND period_bucket >= toDateTime({start_day:Date}, 'UTC')
          AND period_bucket < toDateTime({end_day:Date} + 1, 'UTC')
        GROUP BY team_id, day
    ),
    bounces AS
    (
        SELECT toInt64(team_id) AS team_id, toDate(period_bucket, 'UTC') AS day, count() AS target_rows,
               sumMerge(pageviews_count_state) AS target_pageviews
        FROM web_pre_aggregated_bounces
        WHERE team_id IN {team_ids:Array(Int64)}
          AND period_bucket >= toDateTime({start_day:Date}, 'UTC')
          AND period_bucket < toDateTime({end_day:Date} + 1, 'UTC')
        GROUP BY team_id, day
    )
SELECT team_id, day, table_name, toUInt64(source_pageviews) AS source_pageviews,
       toUInt64(target_rows) AS target_rows, toUInt64(target_pageviews) AS target_pageviews
FROM
(
    SELECT team_id, day, 'web_pre_aggregated_stats' AS table_name, source.source_pageviews AS source_pageviews,
           stats.target_rows AS target_rows, stats.target_pageviews AS target_pageviews
    FROM source FULL OUTER JOIN stats USING (team_id, day)
    UNION ALL
    SELECT team_id, day, 'web_pre_aggregated_bounces' AS table_name, source.source_pageviews AS source_pageviews,
           bounces.target_rows AS target_rows, bounces.target_pageviews AS target_pageviews
    FROM source FULL OUTER JOIN bounces USING (team_id, day)
)
WHERE table_name IN {tables:Array(String)}
ORDER BY team_id, day, table_name
