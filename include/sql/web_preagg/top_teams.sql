-- The {limit} teams with the highest median daily pageviews over [start_day, end_day] (inclusive);
-- days without pageviews count as 0 in the median. An optional, opt-in source of teams to check.
SELECT team_id, toUInt64(arrayReduce('quantileExact(0.5)', arrayResize(groupArray(pageviews), {days:UInt32}, 0)))
       AS median_daily_pageviews
FROM
(
    SELECT team_id, toDate(timestamp, 'UTC') AS day, count() AS pageviews
    FROM events
    WHERE timestamp >= toDateTime64({start_day:Date}, 6, 'UTC')
      AND timestamp < toDateTime64({end_day:Date} + 1, 6, 'UTC')
      AND event IN ('$pageview', '$screen')
    GROUP BY team_id, day
)
GROUP BY team_id
ORDER BY median_daily_pageviews DESC, team_id
LIMIT {limit:UInt32}
