-- One team-day of events rewritten as one file, inside the caller's DuckLake transaction: the day's rows
-- (every copy, as they are) except those of erased persons (temp table erased_keys, empty for a plain
-- compaction) are kept aside, the day is deleted (its files leave the snapshot whole), and the kept rows
-- are written back by DuckLake itself.
CREATE OR REPLACE TEMP TABLE compact_day AS
SELECT * FROM lake.main.events
WHERE team_id = $team_id AND "timestamp" >= $day_start AND "timestamp" < $day_end
  AND NOT
@include(duckling/lake/fragments/erased_event)
;

DELETE FROM lake.main.events
WHERE team_id = $team_id AND "timestamp" >= $day_start AND "timestamp" < $day_end;

INSERT INTO lake.main.events SELECT * FROM compact_day;

DROP TABLE compact_day;
