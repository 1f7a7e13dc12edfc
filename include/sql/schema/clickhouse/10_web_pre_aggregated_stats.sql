-- Hourly web analytics pre-aggregation by page, with PostHog's production columns in production order
-- (WEB_STATS_V2_PRODUCTION_COLUMNS). Every session counts in the hour it started (period_bucket), so a
-- session crossing midnight counts in the day it started. Partitions are days shared by all teams:
-- never replace a partition. mat_metadata_* are NULL where events have no such materialized column,
-- and stay out of the sorting key. No lightweight-update settings, like production: the backfill's
-- per-team delete works with and without them.
CREATE TABLE IF NOT EXISTS web_pre_aggregated_stats
(
    period_bucket DateTime('UTC'),
    team_id UInt64,
    host String,
    device_type String,
    pathname String,
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
    mat_metadata_loggedIn Nullable(Bool)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(period_bucket)
ORDER BY (team_id, period_bucket, host, device_type, pathname, entry_pathname, end_pathname, browser, os,
          viewport_width, viewport_height, referring_domain, utm_source, utm_medium, utm_campaign,
          utm_term, utm_content, country_code, city_name, region_code, region_name, has_gclid,
          has_gad_source_paid_search, has_fbclid);
