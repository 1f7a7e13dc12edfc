-- Coverage of both pre-aggregated tables for teams {team_ids} over the days [start_day, end_day]
-- (inclusive), in ONE query. One row per (team, day) where the team had web traffic that day
-- (source_pageviews > 0: the events the inserts count, fragments/counted_events.sql: $pageview and $screen
-- events of sessions that STARTED that day, the rule stats_insert.sql / bounces_insert.sql use) or either
-- table holds rows; per table, its row count and its pageview total (sumMerge of its pageviews state);
-- and, against the bounces table, the source's sessions, bounces and total duration (a late event that
-- changes no pageview, an $autocapture or a $pageleave, still makes the team-day stale).
--   expected but absent in a table (missing):  source_pageviews > 0 AND <table>_rows = 0
-- Days without traffic and without rows are not returned, so they are never reported missing.
-- The source is computed once (a CTE is inlined wherever it is named, so two joins on it would run the
-- events scan twice): both targets are summed into one row per (team, day) and joined once. The columns
-- are positional in detect.py (Coverage), unordered: the caller sorts what it keeps.
-- Only events ingested by {as_of} (_timestamp) are read: a recompute and its verification then count
-- the same events while ingestion goes on (late events make the team-day stale for the next run).
WITH
    source AS
    (
        SELECT team_id, day, sum(pageviews) AS source_pageviews, count() AS source_sessions,
               sum(bounce) AS source_bounces, sum(duration) AS source_duration
        FROM
        (
            -- per session first (same scan): a late $autocapture or $pageleave changes a session's
            -- bounce or duration without changing any pageview total
            SELECT team_id, toDate(any(start_timestamp), 'UTC') AS day, count() AS pageviews,
                   toUInt64(ifNull(any(is_bounce), 0)) AS bounce, any(session_duration) AS duration
            FROM
            (
@include(web_preagg/fragments/counted_events)
            )
            GROUP BY team_id, session_id_v7
        )
        GROUP BY team_id, day
    ),
    targets AS
    (
        SELECT team_id, day,
               sumIf(target_rows, is_stats) AS stats_rows,
               sumIf(target_pageviews, is_stats) AS stats_pageviews,
               sumIf(target_rows, NOT is_stats) AS bounces_rows,
               sumIf(target_pageviews, NOT is_stats) AS bounces_pageviews,
               sumIf(target_sessions, NOT is_stats) AS bounces_sessions,
               sumIf(target_bounces, NOT is_stats) AS bounces_bounces,
               sumIf(target_duration, NOT is_stats) AS bounces_duration
        FROM
        (
            SELECT toInt64(team_id) AS team_id, toDate(period_bucket, 'UTC') AS day, true AS is_stats,
                   count() AS target_rows, sumMerge(pageviews_count_state) AS target_pageviews,
                   toUInt64(0) AS target_sessions, toUInt64(0) AS target_bounces, toInt64(0) AS target_duration
            FROM web_pre_aggregated_stats
            WHERE team_id IN {team_ids:Array(Int64)}
              AND period_bucket >= toDateTime({start_day:Date}, 'UTC')
              AND period_bucket < toDateTime({end_day:Date} + 1, 'UTC')
            GROUP BY team_id, day
            UNION ALL
            SELECT toInt64(team_id) AS team_id, toDate(period_bucket, 'UTC') AS day, false AS is_stats,
                   count() AS target_rows, sumMerge(pageviews_count_state) AS target_pageviews,
                   toUInt64(sumMerge(total_session_count_state)) AS target_sessions,
                   toUInt64(sumMerge(bounces_count_state)) AS target_bounces,
                   toInt64(sumMerge(total_session_duration_state)) AS target_duration
            FROM web_pre_aggregated_bounces
            WHERE team_id IN {team_ids:Array(Int64)}
              AND period_bucket >= toDateTime({start_day:Date}, 'UTC')
              AND period_bucket < toDateTime({end_day:Date} + 1, 'UTC')
            GROUP BY team_id, day
        )
        GROUP BY team_id, day
    )
SELECT team_id, day, toUInt64(source_pageviews) AS source_pageviews,
       toUInt64(stats_rows) AS stats_rows, toUInt64(stats_pageviews) AS stats_pageviews,
       toUInt64(bounces_rows) AS bounces_rows, toUInt64(bounces_pageviews) AS bounces_pageviews,
       toUInt64(source_sessions) AS source_sessions, toUInt64(source_bounces) AS source_bounces,
       toInt64(source_duration) AS source_duration, toUInt64(bounces_sessions) AS bounces_sessions,
       toUInt64(bounces_bounces) AS bounces_bounces, toInt64(bounces_duration) AS bounces_duration
FROM source FULL OUTER JOIN targets USING (team_id, day)
WHERE source_pageviews > 0 OR stats_rows > 0 OR bounces_rows > 0
