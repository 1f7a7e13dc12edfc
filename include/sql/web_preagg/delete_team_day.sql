-- Remove ONE team's rows of ONE day from a pre-aggregated table; other teams' rows in the shared day
-- partition are untouched (a lightweight delete, synchronous). Never replace a whole partition.
DELETE FROM {target:Identifier}
WHERE team_id = {team_id:Int64}
  AND period_bucket >= toDateTime({day:Date}, 'UTC')
  AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
SETTINGS lightweight_deletes_sync = 2
