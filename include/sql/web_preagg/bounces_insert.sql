-- The daily pre-aggregation of web_pre_aggregated_bounces, for teams {team_ids} and the session-start
-- days [start_day, end_day] (inclusive), into table {t} (the target, or a staging copy of it).
-- One input row per session that started in the window and has at least one $pageview (the same
-- session-start rule and event window as stats_insert.sql). Entry dimensions come from the session's
-- first pageview, end_pathname from its last (ties broken by uuid, so the result is deterministic).
-- A bounce is a session with exactly one pageview and no autocapture; duration = last - first event (s).
-- Only events ingested by {as_of} (_timestamp) are read: a recompute and its verification then count
-- the same events while ingestion goes on (late events make the team-day stale for the next run).
INSERT INTO {t:Identifier} (period_bucket, team_id, host, device_type, entry_pathname, end_pathname,
                            browser, os, referring_domain, utm_source, utm_medium, utm_campaign,
                            country_code, persons_uniq_state, sessions_uniq_state, pageviews_count_state,
                            bounces_count_state, total_session_duration_state)
SELECT
    toStartOfHour(session_start) AS period_bucket,
    team_id,
    JSONExtractString(entry_properties, '$host') AS host,
    JSONExtractString(entry_properties, '$device_type') AS device_type,
    JSONExtractString(entry_properties, '$pathname') AS entry_pathname,
    end_pathname,
    JSONExtractString(entry_properties, '$browser') AS browser,
    JSONExtractString(entry_properties, '$os') AS os,
    JSONExtractString(entry_properties, '$referring_domain') AS referring_domain,
    JSONExtractString(entry_properties, 'utm_source') AS utm_source,
    JSONExtractString(entry_properties, 'utm_medium') AS utm_medium,
    JSONExtractString(entry_properties, 'utm_campaign') AS utm_campaign,
    JSONExtractString(entry_properties, '$geoip_country_code') AS country_code,
    uniqState(person_id) AS persons_uniq_state,
    uniqState(session_id) AS sessions_uniq_state,
    sumState(toUInt64(pageviews)) AS pageviews_count_state,
    sumState(toUInt64(pageviews = 1 AND autocaptures = 0)) AS bounces_count_state,
    sumState(toInt64(duration_s)) AS total_session_duration_state
FROM
(
    SELECT
        team_id,
        session_id,
        min(timestamp) AS session_start,
        countIf(event = '$pageview') AS pageviews,
        countIf(event = '$autocapture') AS autocaptures,
        argMinIf(person_id, (timestamp, uuid), event = '$pageview') AS person_id,
        argMinIf(properties, (timestamp, uuid), event = '$pageview') AS entry_properties,
        argMaxIf(JSONExtractString(properties, '$pathname'), (timestamp, uuid), event = '$pageview') AS end_pathname,
        dateDiff('second', min(timestamp), max(timestamp)) AS duration_s
    FROM events FINAL
    WHERE team_id IN {team_ids:Array(Int64)}
      AND timestamp >= toDateTime64({start_day:Date} - 1, 6, 'UTC')
      AND timestamp < toDateTime64({end_day:Date} + 2, 6, 'UTC')
      AND _timestamp <= {as_of:DateTime64(6, 'UTC')}
      AND session_id != ''
    GROUP BY team_id, session_id
    HAVING session_start >= toDateTime64({start_day:Date}, 6, 'UTC')
       AND session_start < toDateTime64({end_day:Date} + 1, 6, 'UTC')
       AND pageviews > 0
)
GROUP BY period_bucket, team_id, host, device_type, entry_pathname, end_pathname, browser, os,
         referring_domain, utm_source, utm_medium, utm_campaign, country_code
