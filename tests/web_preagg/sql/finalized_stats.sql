-- Finalized values of web_pre_aggregated_stats-shaped table {t} for one team-day, per bucket and dims.
SELECT toString(period_bucket) AS bucket, host, device_type, pathname, browser, os, referring_domain,
       utm_source, utm_medium, utm_campaign, country_code,
       uniqMerge(persons_uniq_state) AS persons, uniqMerge(sessions_uniq_state) AS sessions,
       sumMerge(pageviews_count_state) AS pageviews
FROM {t:Identifier}
WHERE team_id = {team_id:Int64}
  AND period_bucket >= toDateTime({day:Date}, 'UTC') AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
GROUP BY ALL
ORDER BY ALL
