-- Raw rows (not merged states) a target table holds for one team-day: what a copy into it wrote.
SELECT count() AS n
FROM {t:Identifier}
WHERE team_id = {team_id:Int64}
  AND period_bucket >= toDateTime({day:Date}, 'UTC') AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
