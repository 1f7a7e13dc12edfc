-- Rows for team {to_team} on {day} copied from team {from_team}'s rows (a team-day the source does not back).
INSERT INTO web_pre_aggregated_stats
SELECT * REPLACE ({to_team:Int64} AS team_id)
FROM
(
    SELECT * FROM web_pre_aggregated_stats
    WHERE team_id = {from_team:Int64}
      AND period_bucket >= toDateTime({day:Date}, 'UTC') AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
)
