-- Remove a team's rows of one UTC day [day_start, day_end) from the lake (inside the register transaction).
DELETE FROM lake.main.events
WHERE team_id = $team_id AND "timestamp" >= $day_start AND "timestamp" < $day_end
