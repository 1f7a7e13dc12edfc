-- Remove ONE team's rows of ONE day from a pre-aggregated table; other teams' rows in the shared day
-- partition are untouched. Never replace a whole partition. Synchronous: when this returns, readers no
-- longer see the rows. On tables with block number/offset columns (see the schema) the delete is a
-- lightweight update (a small patch part); elsewhere ClickHouse falls back to a lightweight-delete mutation.
DELETE FROM {target:Identifier}
WHERE team_id = {team_id:Int64}
  AND period_bucket >= toDateTime({day:Date}, 'UTC')
  AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
SETTINGS lightweight_delete_mode = 'lightweight_update', lightweight_deletes_sync = 2
