-- Hourly web analytics pre-aggregation by session entry: bounces and session duration. Same
-- session-start-hour bucketing as web_pre_aggregated_stats.
CREATE TABLE IF NOT EXISTS web_pre_aggregated_bounces
(
    period_bucket DateTime('UTC'),
    team_id Int64,
    host String,
    device_type String,
    entry_pathname String,
    end_pathname String,
    browser String,
    os String,
    referring_domain String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    country_code String,
    persons_uniq_state AggregateFunction(uniq, UUID),
    sessions_uniq_state AggregateFunction(uniq, String),
    pageviews_count_state AggregateFunction(sum, UInt64),
    bounces_count_state AggregateFunction(sum, UInt64),
    total_session_duration_state AggregateFunction(sum, Int64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(period_bucket)
ORDER BY (team_id, period_bucket, host, device_type, entry_pathname, end_pathname, browser, os,
          referring_domain, utm_source, utm_medium, utm_campaign, country_code)
-- Block number/offset columns enable lightweight updates: the backfill's per-team DELETE becomes a small
-- patch part (milliseconds) instead of a mutation that rewrites every part of the table.
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;
