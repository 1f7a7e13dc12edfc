-- Hourly web analytics pre-aggregation by page. An event belongs to the hour its SESSION started
-- (period_bucket = toStartOfHour(min(timestamp) over the session)), so a session crossing midnight
-- counts in the day it started. Partitions are days shared by all teams: never replace a partition.
CREATE TABLE IF NOT EXISTS web_pre_aggregated_stats
(
    period_bucket DateTime('UTC'),
    team_id Int64,
    host String,
    device_type String,
    pathname String,
    browser String,
    os String,
    referring_domain String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    country_code String,
    persons_uniq_state AggregateFunction(uniq, UUID),
    sessions_uniq_state AggregateFunction(uniq, String),
    pageviews_count_state AggregateFunction(sum, UInt64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(period_bucket)
ORDER BY (team_id, period_bucket, host, device_type, pathname, browser, os, referring_domain,
          utm_source, utm_medium, utm_campaign, country_code)
-- Block number/offset columns enable lightweight updates: the backfill's per-team DELETE becomes a small
-- patch part (milliseconds) instead of a mutation that rewrites every part of the table.
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;
