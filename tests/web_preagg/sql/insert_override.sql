-- One person override (a merge) of team {team_id}: distinct id {distinct_id} now belongs to {person_id}.
INSERT INTO person_distinct_id_overrides (team_id, distinct_id, person_id, is_deleted, version, _timestamp)
SELECT {team_id:Int64}, {distinct_id:String}, {person_id:UUID}, 0, {version:Int64}, now()
