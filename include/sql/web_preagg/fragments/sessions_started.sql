-- Fragment: the sessions of teams {team_ids} that STARTED in [start_day, end_day] (UTC), finalized from
-- raw_sessions with their session-level values. The session's start, its first event's timestamp,
-- decides its day and hour. As PostHog's daily job: a session of day D counts only if its id's UUIDv7
-- time is in [D - 24 h, D + 1 day) (a sorting-key range; a client clock further off drops the session
-- there too), checked per session day so a window of many days selects what its days select one by one.
-- Bounce: NULL without any $pageview/$screen/$autocapture, else NOT (more than one of them OR duration
-- >= 10 s); duration = dateDiff('second', first, last): second boundaries crossed, as PostHog counts.
-- City: PostHog's raw_sessions column initial_geoip_subdivision_city_name (fed from $geoip_city_name).
SELECT
    team_id,
    session_id_v7,
    min(min_timestamp) AS start_timestamp,
    toInt64(dateDiff('second', start_timestamp, max(max_timestamp))) AS session_duration,
    path(argMinMerge(entry_url)) AS entry_pathname,
    path(argMaxMerge(end_url)) AS end_pathname,
    argMinMerge(initial_referring_domain) AS referring_domain,
    argMinMerge(initial_utm_source) AS utm_source,
    argMinMerge(initial_utm_medium) AS utm_medium,
    argMinMerge(initial_utm_campaign) AS utm_campaign,
    argMinMerge(initial_utm_term) AS utm_term,
    argMinMerge(initial_utm_content) AS utm_content,
    -- PostHog's rule (sessions_v2): notEmpty(initial) AND initial != 'null' (some SDKs send 'null')
    notEmpty(argMinMerge(initial_gclid)) AND argMinMerge(initial_gclid) != 'null' AS has_gclid,
    argMinMerge(initial_gad_source) = '1' AS has_gad_source_paid_search,
    notEmpty(argMinMerge(initial_fbclid)) AND argMinMerge(initial_fbclid) != 'null' AS has_fbclid,
    argMinMerge(initial_geoip_country_code) AS session_country_code,
    argMinMerge(initial_geoip_subdivision_city_name) AS session_city_name,
    argMinMerge(initial_geoip_subdivision_1_code) AS session_region_code,
    argMinMerge(initial_geoip_subdivision_1_name) AS session_region_name,
    uniqUpToMerge(1)(page_screen_autocapture_uniq_up_to) AS page_screen_autocapture_up_to,
    if(page_screen_autocapture_up_to = 0, NULL,
       NOT (page_screen_autocapture_up_to > 1 OR session_duration >= 10)) AS is_bounce
FROM raw_sessions
WHERE team_id IN {team_ids:Array(Int64)}
  AND session_id_v7 >= bitShiftLeft(toUInt128(toUnixTimestamp64Milli(toDateTime64({start_day:Date} - 1, 3, 'UTC'))), 80)
  AND session_id_v7 < bitShiftLeft(toUInt128(toUnixTimestamp64Milli(toDateTime64({end_day:Date} + 1, 3, 'UTC'))), 80)
GROUP BY team_id, session_id_v7
HAVING start_timestamp >= toDateTime64({start_day:Date}, 6, 'UTC')
   AND start_timestamp < toDateTime64({end_day:Date} + 1, 6, 'UTC')
   AND session_id_v7 >= bitShiftLeft(toUInt128(toUnixTimestamp64Milli(toDateTime64(toDate(start_timestamp, 'UTC') - 1, 3, 'UTC'))), 80)
   AND session_id_v7 < bitShiftLeft(toUInt128(toUnixTimestamp64Milli(toDateTime64(toDate(start_timestamp, 'UTC') + 1, 3, 'UTC'))), 80)
