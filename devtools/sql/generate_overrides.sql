-- Person overrides for the anonymous distinct ids of generate_events.sql ('anon-T-P', every 5th person):
-- version 1 points the id at person P+1; every 10th person's id is overridden again (version 2, to P+2);
-- every 15th person's latest version deletes the override (the event's own person_id counts again).
INSERT INTO person_distinct_id_overrides (team_id, distinct_id, person_id, is_deleted, version, _timestamp)
WITH
    length({team_ids:Array(Int64)}) AS n_teams,
    {team_ids:Array(Int64)}[1 + (number % n_teams)] AS team_id,
    intDiv(number, n_teams) * 5 AS person_idx,
    arrayJoin(range(toUInt64(1 + (person_idx % 10 = 0) + (person_idx % 15 = 0)))) AS v,
    (person_idx + 1 + if(v >= 1 AND person_idx % 10 = 0, 1, 0)) % {persons_per_team:UInt32} AS target_idx,
    concat(leftPad(hex(cityHash64({seed:UInt64}, 'person', team_id, target_idx)), 16, '0'),
           leftPad(hex(cityHash64({seed:UInt64}, 'person2', team_id, target_idx)), 16, '0')) AS person_hex
SELECT
    team_id,
    concat('anon-', toString(team_id), '-', toString(person_idx)) AS distinct_id,
    toUUID(concat(substring(person_hex, 1, 8), '-', substring(person_hex, 9, 4), '-', substring(person_hex, 13, 4),
                  '-', substring(person_hex, 17, 4), '-', substring(person_hex, 21, 12))) AS person_id,
    toInt8(person_idx % 15 = 0 AND v = (person_idx % 10 = 0) + 1) AS is_deleted,
    toInt64(v + 1) AS version,
    toDateTime({start_day:Date}, 'UTC') + toIntervalSecond(v * 86400 + 3600) AS _timestamp
FROM numbers(toUInt64(n_teams) * intDiv({persons_per_team:UInt32} + 4, 5))
