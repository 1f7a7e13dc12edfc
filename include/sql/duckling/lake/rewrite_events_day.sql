-- Compaction of one team-day of events into one file, inside one DuckLake transaction: the day's rows
-- (every copy, as they are) are kept aside, deleted, and written back by DuckLake itself.
CREATE OR REPLACE TEMP TABLE compact_day AS
SELECT * FROM lake.main.events
WHERE team_id = $team_id AND "timestamp" >= $day_start AND "timestamp" < $day_end;

DELETE FROM lake.main.events
WHERE team_id = $team_id AND "timestamp" >= $day_start AND "timestamp" < $day_end;

INSERT INTO lake.main.events SELECT * FROM compact_day;

DROP TABLE compact_day;
