-- One hand-made event of team {team_id} (the fidelity cases), ingested a minute ago (before any read's
-- ingestion cutoff).
INSERT INTO events (uuid, event, properties, timestamp, team_id, distinct_id, person_id, session_id,
                    elements_chain, created_at, _timestamp)
SELECT {uuid:UUID}, {event:String}, {properties:String}, {ts:DateTime64(6, 'UTC')}, {team_id:Int64},
       {distinct_id:String}, {person_id:UUID}, {session_id:String}, '', {ts:DateTime64(6, 'UTC')}, now() - 60
