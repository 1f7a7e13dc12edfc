-- Sessions, shaped like PostHog's raw_sessions (v2): one AggregatingMergeTree row per (team, session)
-- after merges, keyed by the session id (a UUIDv7) as UInt128, so a range of session ids is a range of
-- session start times. Fed by the materialized view below from every event with a UUIDv7 $session_id.
-- Readers finalize with GROUP BY team_id, session_id_v7 and the -Merge functions. "initial_*" is the
-- value on the session's first event (by timestamp; ties are arbitrary, as in PostHog). Column names are
-- PostHog's (sessions_v2), e.g. initial_geoip_subdivision_city_name holds the $geoip_city_name property.
CREATE TABLE IF NOT EXISTS raw_sessions
(
    team_id Int64,
    session_id_v7 UInt128,
    session_timestamp DateTime64(3, 'UTC')
        MATERIALIZED fromUnixTimestamp64Milli(toInt64(bitShiftRight(session_id_v7, 80)), 'UTC'),
    distinct_id AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    min_timestamp SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    max_timestamp SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    entry_url AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    end_url AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    initial_referring_domain AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_utm_source AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_utm_medium AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_utm_campaign AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_utm_term AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_utm_content AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_gclid AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_gad_source AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_fbclid AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_geoip_country_code AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_geoip_subdivision_city_name AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_geoip_subdivision_1_code AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    initial_geoip_subdivision_1_name AggregateFunction(argMin, String, DateTime64(6, 'UTC')),
    -- distinct $pageview/$screen/$autocapture events, counted up to 2 ("more than one"): the bounce rule
    page_screen_autocapture_uniq_up_to AggregateFunction(uniqUpTo(1), Nullable(UUID))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(toInt64(bitShiftRight(session_id_v7, 80)), 'UTC'))
ORDER BY (team_id, session_id_v7);

-- Every event with a UUIDv7 $session_id (version nibble 7) updates its session's row.
CREATE MATERIALIZED VIEW IF NOT EXISTS raw_sessions_mv TO raw_sessions AS
SELECT
    team_id,
    toUInt128(toUUIDOrZero(session_id)) AS session_id_v7,
    argMaxState(distinct_id, timestamp) AS distinct_id,
    min(timestamp) AS min_timestamp,
    max(timestamp) AS max_timestamp,
    argMinState(JSONExtractString(properties, '$current_url'), timestamp) AS entry_url,
    argMaxState(JSONExtractString(properties, '$current_url'), timestamp) AS end_url,
    argMinState(JSONExtractString(properties, '$referring_domain'), timestamp) AS initial_referring_domain,
    argMinState(JSONExtractString(properties, 'utm_source'), timestamp) AS initial_utm_source,
    argMinState(JSONExtractString(properties, 'utm_medium'), timestamp) AS initial_utm_medium,
    argMinState(JSONExtractString(properties, 'utm_campaign'), timestamp) AS initial_utm_campaign,
    argMinState(JSONExtractString(properties, 'utm_term'), timestamp) AS initial_utm_term,
    argMinState(JSONExtractString(properties, 'utm_content'), timestamp) AS initial_utm_content,
    argMinState(JSONExtractString(properties, 'gclid'), timestamp) AS initial_gclid,
    argMinState(JSONExtractString(properties, 'gad_source'), timestamp) AS initial_gad_source,
    argMinState(JSONExtractString(properties, 'fbclid'), timestamp) AS initial_fbclid,
    argMinState(JSONExtractString(properties, '$geoip_country_code'), timestamp) AS initial_geoip_country_code,
    argMinState(JSONExtractString(properties, '$geoip_city_name'), timestamp)
        AS initial_geoip_subdivision_city_name,
    argMinState(JSONExtractString(properties, '$geoip_subdivision_1_code'), timestamp)
        AS initial_geoip_subdivision_1_code,
    argMinState(JSONExtractString(properties, '$geoip_subdivision_1_name'), timestamp)
        AS initial_geoip_subdivision_1_name,
    uniqUpToState(1)(if(event IN ('$pageview', '$screen', '$autocapture'), toNullable(uuid), NULL))
        AS page_screen_autocapture_uniq_up_to
FROM events
WHERE bitAnd(bitShiftRight(toUInt128(toUUIDOrZero(session_id)), 76), 15) = 7
GROUP BY team_id, session_id_v7;
