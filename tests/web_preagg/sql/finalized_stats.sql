-- Finalized values of web_pre_aggregated_stats-shaped table {t} for one team-day, per bucket and dims.
SELECT toString(period_bucket) AS bucket, host, device_type, pathname, entry_pathname, end_pathname, browser,
       os, viewport_width, viewport_height, referring_domain, utm_source, utm_medium, utm_campaign, utm_term,
       utm_content, country_code, city_name, region_code, region_name, has_gclid, has_gad_source_paid_search,
       has_fbclid, mat_metadata_backend, mat_metadata_loggedIn,
       toUInt64(uniqMerge(persons_uniq_state)) AS persons, toUInt64(uniqMerge(sessions_uniq_state)) AS sessions,
       toUInt64(sumMerge(pageviews_count_state)) AS pageviews
FROM {t:Identifier}
WHERE team_id = {team_id:Int64}
  AND period_bucket >= toDateTime({day:Date}, 'UTC') AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
GROUP BY ALL
ORDER BY ALL
