-- Coverage of both pre-aggregated tables for teams {team_ids} over the days [start_day, end_day]
-- (inclusive), in ONE query. One row per (team, day, table) where the team had web traffic that day
-- (source_pageviews > 0: the events the inserts count, fragments/counted_events.sql: $pageview and $screen
-- events of sessions that STARTED that day, the rule stats_insert.sql / bounces_insert.sql use) or the
-- table holds rows.
--   expected but absent (missing):  source_pageviews > 0 AND target_rows = 0
--   present:                        target_rows > 0 (target_pageviews = sumMerge of its pageviews)
-- Days without traffic and without rows are not returned, so they are never reported missing.
-- The source is computed once (a CTE is inlined wherever it is named, so two joins on it would run the
-- events scan twice): both targets are summed into one row per (team, day), joined once, and ARRAY JOIN
-- turns that row into one row per table.
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
    targets AS
    (
        SELECT team_id, day,
               sumIf(target_rows, table_name = 'web_pre_aggregated_stats') AS stats_rows,
               sumIf(target_pageviews, table_name = 'web_pre_aggregated_stats') AS stats_pageviews,
               sumIf(target_rows, table_name = 'web_pre_aggregated_bounces') AS bounces_rows,
               sumIf(target_pageviews, table_name = 'web_pre_aggregated_bounces') AS bounces_pageviews
        FROM
        (
            SELECT toInt64(team_id) AS team_id, toDate(period_bucket, 'UTC') AS day,
                   'web_pre_aggregated_stats' AS table_name, count() AS target_rows,
                   sumMerge(pageviews_count_state) AS target_pageviews
            FROM web_pre_aggregated_stats
            WHERE team_id IN {team_ids:Array(Int64)}
              AND period_bucket >= toDateTime({start_day:Date}, 'UTC')
              AND period_bucket < toDateTime({end_day:Date} + 1, 'UTC')
            GROUP BY team_id, day
            UNION ALL
            SELECT toInt64(team_id) AS team_id, toDate(period_bucket, 'UTC') AS day,
                   'web_pre_aggregated_bounces' AS table_name, count() AS target_rows,
                   sumMerge(pageviews_count_state) AS target_pageviews
            FROM web_pre_aggregated_bounces
            WHERE team_id IN {team_ids:Array(Int64)}
              AND period_bucket >= toDateTime({start_day:Date}, 'UTC')
              AND period_bucket < toDateTime({end_day:Date} + 1, 'UTC')
            GROUP BY team_id, day
        )
        GROUP BY team_id, day
    )
SELECT team_id, day, tupleElement(t, 1) AS table_name, toUInt64(source_pageviews) AS source_pageviews,
       toUInt64(tupleElement(t, 2)) AS target_rows, toUInt64(tupleElement(t, 3)) AS target_pageviews
FROM source FULL OUTER JOIN targets USING (team_id, day)
ARRAY JOIN [('web_pre_aggregated_stats', stats_rows, stats_pageviews),
            ('web_pre_aggregated_bounces', bounces_rows, bounces_pageviews)] AS t
WHERE table_name IN {tables:Array(String)} AND (source_pageviews > 0 OR target_rows > 0)
ORDER BY team_id, day, table_name
