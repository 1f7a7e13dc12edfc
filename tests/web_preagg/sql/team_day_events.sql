-- Every stored event row of one team in [day, day + 2): at least what a recompute of day must scan.
SELECT count() AS n
FROM events
WHERE team_id = {team_id:Int64}
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')
