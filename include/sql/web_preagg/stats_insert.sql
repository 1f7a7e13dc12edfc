-- The daily pre-aggregation of web_pre_aggregated_stats, for teams {team_ids} and the session-start
-- days [start_day, end_day] (inclusive), into table {t} (the target, or a staging copy of it).
-- Day assignment: an event belongs to the hour its SESSION started (min timestamp of the session), so a
-- session that crosses midnight counts entirely in the day it started. Sessions are at most a day long
-- (PostHog caps them at 24 h): events are read from start_day - 1 to end_day + 2 to find the starts.
-- Events are deduplicated by the ReplacingMergeTree (FINAL). One row per hour and page dimensions,
-- counting only $pageview events of sessions with a session_id.
-- Only events ingested by {as_of} (_timestamp) are read: a recompute and its verification then count
-- the same events while ingestion goes on (late events make the team-day stale for the next run).
INSERT INTO {t:Identifier} (period_bucket, team_id, host, device_type, pathname, browser, os,
                            referring_domain, utm_source, utm_medium, utm_campaign, country_code,
                            persons_uniq_state, sessions_uniq_state, pageviews_count_state)
SELECT
    toStartOfHour(s.session_start) AS period_bucket,
    e.team_id AS team_id,
    JSONExtractString(e.properties, '$host') AS host,
    JSONExtractString(e.properties, '$device_type') AS device_type,
    JSONExtractString(e.properties, '$pathname') AS pathname,
    JSONExtractString(e.properties, '$browser') AS browser,
    JSONExtractString(e.properties, '$os') AS os,
    JSONExtractString(e.properties, '$referring_domain') AS referring_domain,
    JSONExtractString(e.properties, 'utm_source') AS utm_source,
    JSONExtractString(e.properties, 'utm_medium') AS utm_medium,
    JSONExtractString(e.properties, 'utm_campaign') AS utm_campaign,
    JSONExtractString(e.properties, '$geoip_country_code') AS country_code,
    uniqState(e.person_id) AS persons_uniq_state,
    uniqState(e.session_id) AS sessions_uniq_state,
    sumState(toUInt64(1)) AS pageviews_count_state
FROM
(
    SELECT team_id, session_id, person_id, properties
    FROM events FINAL
    WHERE team_id IN {team_ids:Array(Int64)}
      AND timestamp >= toDateTime64({start_day:Date} - 1, 6, 'UTC')
      AND timestamp < toDateTime64({end_day:Date} + 2, 6, 'UTC')
      AND _timestamp <= {as_of:DateTime64(6, 'UTC')}
      AND session_id != ''
      AND event = '$pageview'
) AS e
INNER JOIN
(
    SELECT team_id, session_id, min(timestamp) AS session_start
    FROM events FINAL
    WHERE team_id IN {team_ids:Array(Int64)}
      AND timestamp >= toDateTime64({start_day:Date} - 1, 6, 'UTC')
      AND timestamp < toDateTime64({end_day:Date} + 2, 6, 'UTC')
      AND _timestamp <= {as_of:DateTime64(6, 'UTC')}
      AND session_id != ''
    GROUP BY team_id, session_id
    HAVING session_start >= toDateTime64({start_day:Date}, 6, 'UTC')
       AND session_start < toDateTime64({end_day:Date} + 1, 6, 'UTC')
) AS s ON e.team_id = s.team_id AND e.session_id = s.session_id
GROUP BY period_bucket, team_id, host, device_type, pathname, browser, os, referring_domain, utm_source,
         utm_medium, utm_campaign, country_code
