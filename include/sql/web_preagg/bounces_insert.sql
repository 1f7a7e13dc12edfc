-- The daily pre-aggregation of web_pre_aggregated_bounces, for teams {team_ids} and the session-start
-- days [start_day, end_day] (inclusive), into table {t} (the target, or a staging copy of it). One input
-- row per session with counted events (fragments/counted_events.sql). Geo, entry/end pathname, referrer,
-- UTM, click ids, bounce and duration are the session's; host, device, browser, OS and viewport are
-- those of the session's first counted event (PostHog: any(); first is deterministic), and the person is
-- its last counted event's, as PostHog's argMax(person_id, timestamp) (ties broken by uuid).
INSERT INTO {t:Identifier} (period_bucket, team_id, host, device_type, entry_pathname, end_pathname,
                            browser, os, viewport_width, viewport_height, referring_domain, utm_source,
                            utm_medium, utm_campaign, utm_term, utm_content, country_code, city_name,
                            region_code, region_name, has_gclid, has_gad_source_paid_search, has_fbclid,
                            mat_metadata_backend, persons_uniq_state, sessions_uniq_state,
                            pageviews_count_state, bounces_count_state, total_session_duration_state,
                            total_session_count_state, mat_metadata_loggedIn)
SELECT
    toStartOfHour(start_timestamp) AS period_bucket,
    toUInt64(team_id) AS team_id_out,
    host,
    device_type,
    entry_pathname,
    end_pathname,
    browser,
    os,
    viewport_width,
    viewport_height,
    referring_domain,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_term,
    utm_content,
    session_country_code AS country_code,
    session_city_name AS city_name,
    session_region_code AS region_code,
    session_region_name AS region_name,
    has_gclid,
    has_gad_source_paid_search,
    has_fbclid,
    CAST(NULL AS Nullable(String)) AS mat_metadata_backend,
    uniqState(person_id) AS persons_uniq_state,
    uniqState(session_id) AS sessions_uniq_state,
    sumState(pageviews) AS pageviews_count_state,
    sumState(toUInt64(ifNull(is_bounce, 0))) AS bounces_count_state,
    sumState(session_duration) AS total_session_duration_state,
    sumState(toUInt64(1)) AS total_session_count_state,
    CAST(NULL AS Nullable(Bool)) AS mat_metadata_loggedIn
FROM
(
    SELECT
        team_id,
        session_id,
        toUInt64(count()) AS pageviews,
        argMax(person_id, (timestamp, uuid)) AS person_id,
        argMin(JSONExtractString(properties, '$host'), (timestamp, uuid)) AS host,
        argMin(JSONExtractString(properties, '$device_type'), (timestamp, uuid)) AS device_type,
        argMin(JSONExtractString(properties, '$browser'), (timestamp, uuid)) AS browser,
        argMin(JSONExtractString(properties, '$os'), (timestamp, uuid)) AS os,
        argMin(JSONExtractInt(properties, '$viewport_width'), (timestamp, uuid)) AS viewport_width,
        argMin(JSONExtractInt(properties, '$viewport_height'), (timestamp, uuid)) AS viewport_height,
        any(start_timestamp) AS start_timestamp,
        any(session_duration) AS session_duration,
        any(entry_pathname) AS entry_pathname,
        any(end_pathname) AS end_pathname,
        any(referring_domain) AS referring_domain,
        any(utm_source) AS utm_source,
        any(utm_medium) AS utm_medium,
        any(utm_campaign) AS utm_campaign,
        any(utm_term) AS utm_term,
        any(utm_content) AS utm_content,
        any(has_gclid) AS has_gclid,
        any(has_gad_source_paid_search) AS has_gad_source_paid_search,
        any(has_fbclid) AS has_fbclid,
        any(session_country_code) AS session_country_code,
        any(session_city_name) AS session_city_name,
        any(session_region_code) AS session_region_code,
        any(session_region_name) AS session_region_name,
        any(is_bounce) AS is_bounce
    FROM
    (
@include(web_preagg/fragments/counted_events_with_person)
    )
    GROUP BY team_id, session_id_v7, session_id
)
GROUP BY period_bucket, team_id_out, host, device_type, entry_pathname, end_pathname, browser, os,
         viewport_width, viewport_height, referring_domain, utm_source, utm_medium, utm_campaign, utm_term,
         utm_content, country_code, city_name, region_code, region_name, has_gclid,
         has_gad_source_paid_search, has_fbclid
