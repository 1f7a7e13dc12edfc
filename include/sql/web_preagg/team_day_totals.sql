-- Rows and pageviews of one team-day in a pre-aggregated table (target or staging).
SELECT toUInt64(count()) AS target_rows, toUInt64(sumMerge(pageviews_count_state)) AS target_pageviews
FROM {t:Identifier}
WHERE team_id = {team_id:Int64}
  AND period_bucket >= toDateTime({day:Date}, 'UTC')
  AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
