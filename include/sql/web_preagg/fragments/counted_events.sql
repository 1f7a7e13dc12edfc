-- Fragment: the events the daily job counts for the sessions that started in [start_day, end_day]:
-- $pageview and $screen events with a $session_id, every stored row as PostHog's daily job reads them
-- (no FINAL; the dedupe_events option runs the whole statement with the `final` setting, one row per
-- uuid, and detection always runs with the same choice as the inserts), ingested by {as_of}, and
-- no later than 1 h after the end of their session's start day (a session starting late on D keeps its
-- first hour after midnight: the daily job of D reads events up to D + 1 day + 1 h). The cutoff is per
-- session day, so a window of many days counts exactly what its days count one by one. Each event
-- carries its session's values (its person is resolved by fragments/counted_events_with_person.sql).
SELECT
    e.uuid AS uuid,
    e.timestamp AS timestamp,
    e.team_id AS team_id,
    e.session_id AS session_id,
    e.session_id_v7 AS session_id_v7,
    e.properties AS properties,
    e.distinct_id AS distinct_id,
    e.person_id AS event_person_id,
    s.start_timestamp AS start_timestamp,
    s.session_duration AS session_duration,
    s.entry_pathname AS entry_pathname,
    s.end_pathname AS end_pathname,
    s.referring_domain AS referring_domain,
    s.utm_source AS utm_source,
    s.utm_medium AS utm_medium,
    s.utm_campaign AS utm_campaign,
    s.utm_term AS utm_term,
    s.utm_content AS utm_content,
    s.has_gclid AS has_gclid,
    s.has_gad_source_paid_search AS has_gad_source_paid_search,
    s.has_fbclid AS has_fbclid,
    s.session_country_code AS session_country_code,
    s.session_city_name AS session_city_name,
    s.session_region_code AS session_region_code,
    s.session_region_name AS session_region_name,
    s.is_bounce AS is_bounce
FROM
(
    SELECT uuid, timestamp, team_id, distinct_id, person_id, session_id, properties,
           toUInt128(toUUIDOrZero(session_id)) AS session_id_v7
    FROM events
    WHERE team_id IN {team_ids:Array(Int64)}
      AND timestamp >= toDateTime64({start_day:Date}, 6, 'UTC')
      AND timestamp < toDateTime64({end_day:Date} + 1, 6, 'UTC') + INTERVAL 1 HOUR
      AND _timestamp <= {as_of:DateTime64(6, 'UTC')}
      AND event IN ('$pageview', '$screen')
      AND session_id != ''
) AS e
INNER JOIN
(
@include(web_preagg/fragments/sessions_started)
) AS s ON e.team_id = s.team_id AND e.session_id_v7 = s.session_id_v7
WHERE e.timestamp < toDateTime64(toDate(s.start_timestamp, 'UTC'), 6, 'UTC') + INTERVAL 25 HOUR
