-- Remove ONE team's rows of ONE day from a pre-aggregated table; other teams' rows in the shared day
-- partition are untouched. Never replace a whole partition. A lightweight DELETE, synchronous on every
-- replica (lightweight_deletes_sync = 2, ClickHouse 24.4+): when this returns, no replica's readers see
-- the rows. The caller adds lightweight_delete_mode = 'lightweight_update' where the server knows it
-- (25.7+): on a table with patch parts on (patch_parts_enable.sql) the delete is one patch part written
-- at once, else ClickHouse falls back to the mutation (seconds per team-day).
DELETE FROM {target:Identifier}
WHERE team_id = {team_id:Int64}
  AND period_bucket >= toDateTime({day:Date}, 'UTC')
  AND period_bucket < toDateTime({day:Date} + 1, 'UTC')
SETTINGS lightweight_deletes_sync = 2
