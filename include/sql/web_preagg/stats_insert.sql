-- The daily pre-aggregation of web_pre_aggregated_stats, for teams {team_ids} and the session-start
-- days [start_day, end_day] (inclusive), into table {t} (the target, or a staging copy of it). One row
-- per session-start hour and dimensions, over the counted events (fragments/counted_events.sql: every
-- $pageview/$screen of the sessions that started in the window). Page, device and geo columns are the
-- event's, except region_name; entry/end pathname, referrer, UTM and click ids are the session's
-- initial values. As PostHog's daily job, the events are first grouped per session and dimensions, with
-- ONE person per group (PostHog: any(); here the group's last event's person, ties broken by uuid, so
-- the choice is deterministic). The mat_metadata_* columns are NULL: these events have no such
-- materialized column.
INSERT INTO {t:Identifier} (period_bucket, team_id, host, device_type, pathname, entry_pathname,
                            end_pathname, browser, os, viewport_width, viewport_height, referring_domain,
                            utm_source, utm_medium, utm_campaign, utm_term, utm_content, country_code,
                            city_name, region_code, region_name, has_gclid, has_gad_source_paid_search,
                            has_fbclid, mat_metadata_backend, persons_uniq_state, sessions_uniq_state,
                            pageviews_count_state, mat_metadata_loggedIn)
SELECT
    period_bucket,
    team_id_out,
    host,
    device_type,
    pathname,
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
    country_code,
    city_name,
    region_code,
    region_name,
    has_gclid,
    has_gad_source_paid_search,
    has_fbclid,
    CAST(NULL AS Nullable(String)) AS mat_metadata_backend,
    uniqState(person_id) AS persons_uniq_state,
    uniqState(session_id) AS sessions_uniq_state,
    sumState(pageviews) AS pageviews_count_state,
    CAST(NULL AS Nullable(Bool)) AS mat_metadata_loggedIn
FROM
(
    SELECT
        toStartOfHour(start_timestamp) AS period_bucket,
        toUInt64(team_id) AS team_id_out,
        session_id,
        JSONExtractString(properties, '$host') AS host,
        JSONExtractString(properties, '$device_type') AS device_type,
        JSONExtractString(properties, '$pathname') AS pathname,
        entry_pathname,
        end_pathname,
        JSONExtractString(properties, '$browser') AS browser,
        JSONExtractString(properties, '$os') AS os,
        JSONExtractInt(properties, '$viewport_width') AS viewport_width,
        JSONExtractInt(properties, '$viewport_height') AS viewport_height,
        referring_domain,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        JSONExtractString(properties, '$geoip_country_code') AS country_code,
        JSONExtractString(properties, '$geoip_city_name') AS city_name,
        JSONExtractString(properties, '$geoip_subdivision_1_code') AS region_code,
        session_region_name AS region_name,
        has_gclid,
        has_gad_source_paid_search,
        has_fbclid,
        argMax(person_id, (timestamp, uuid)) AS person_id,
        toUInt64(count()) AS pageviews
    FROM
    (
@include(web_preagg/fragments/counted_events_with_person)
    )
    GROUP BY period_bucket, team_id_out, session_id_v7, session_id, host, device_type, pathname,
             entry_pathname, end_pathname, browser, os, viewport_width, viewport_height, referring_domain,
             utm_source, utm_medium, utm_campaign, utm_term, utm_content, country_code, city_name,
             region_code, region_name, has_gclid, has_gad_source_paid_search, has_fbclid
)
GROUP BY period_bucket, team_id_out, host, device_type, pathname, entry_pathname, end_pathname, browser, os,
         viewport_width, viewport_height, referring_domain, utm_source, utm_medium, utm_campaign, utm_term,
         utm_content, country_code, city_name, region_code, region_name, has_gclid,
         has_gad_source_paid_search, has_fbclid
