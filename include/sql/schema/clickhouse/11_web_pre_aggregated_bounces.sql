-- Hourly web analytics pre-aggregation by session (bounces, durations), with PostHog's production
-- columns in production order (WEB_BOUNCES_V2_PRODUCTION_COLUMNS): the stats columns without pathname,
-- plus bounce, duration and session-count states. Same session-start-hour bucketing, same day
-- partitions shared by all teams, no lightweight-update settings.
CREATE TABLE IF NOT EXISTS web_pre_aggregated_bounces
(
    period_bucket DateTime('UTC'),
    team_id UInt64,
    host String,
    device_type String,
    entry_pathname String,
    end_pathname String,
    browser String,
    os String,
    viewport_width Int64,
    viewport_height Int64,
    referring_domain String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_term String,
    utm_content String,
    country_code String,
    city_name String,
    region_code String,
    region_name String,
    has_gclid Bool,
    has_gad_source_paid_search Bool,
    has_fbclid Bool,
    mat_metadata_backend Nullable(String),
    persons_uniq_state AggregateFunction(uniq, UUID),
    sessions_uniq_state AggregateFunction(uniq, String),
    pageviews_count_state AggregateFunction(sum, UInt64),
    bounces_count_state AggregateFunction(sum, UInt64),
    total_session_duration_state AggregateFunction(sum, Int64),
    total_session_count_state AggregateFunction(sum, UInt64),
    mat_metadata_loggedIn Nullable(Bool)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(period_bucket)
ORDER BY (team_id, period_bucket, host, device_type, entry_pathname, end_pathname, browser, os,
          viewport_width, viewport_height, referring_domain, utm_source, utm_medium, utm_campaign,
          utm_term, utm_content, country_code, city_name, region_code, region_name, has_gclid,
          has_gad_source_paid_search, has_fbclid);
