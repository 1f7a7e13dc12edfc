-- distinct_id -> person rows for the demo persons: every person has 'user-T-P'; every 5th also has
-- 'anon-T-P'; every 7th of those anon ids later moves to the next person (version 1); the distinct ids
-- of deleted persons (every 17th) are deleted (version 1).
INSERT INTO person_distinct_id2 (team_id, distinct_id, person_id, is_deleted, version, _timestamp)
WITH
    length({team_ids:Array(Int64)}) AS n_teams,
    {team_ids:Array(Int64)}[1 + (number % n_teams)] AS team_id,
    intDiv(number, n_teams) AS person_idx,
    cityHash64({seed:UInt64}, 'versions', team_id, person_idx) AS h,
    arrayJoin([
        tuple(concat('user-', toString(team_id), '-', toString(person_idx)), person_idx, 0, 0),
        tuple(concat('anon-', toString(team_id), '-', toString(person_idx)), person_idx, 0, 0),
        tuple(concat('anon-', toString(team_id), '-', toString(person_idx)),
              (person_idx + 1) % {persons_per_team:UInt32}, 0, 1),
        tuple(concat('user-', toString(team_id), '-', toString(person_idx)), person_idx, 1, 1)
    ]) AS row,
    row.2 AS target_idx,
    concat(leftPad(hex(cityHash64({seed:UInt64}, 'person', team_id, target_idx)), 16, '0'),
           leftPad(hex(cityHash64({seed:UInt64}, 'person2', team_id, target_idx)), 16, '0')) AS person_hex
SELECT
    team_id,
    row.1 AS distinct_id,
    toUUID(concat(substring(person_hex, 1, 8), '-', substring(person_hex, 9, 4), '-', substring(person_hex, 13, 4),
                  '-', substring(person_hex, 17, 4), '-', substring(person_hex, 21, 12))) AS person_id,
    toInt8(row.3) AS is_deleted,
    toInt64(row.4) AS version,
    toDateTime({start_day:Date}, 'UTC') + toIntervalSecond((h % {days:UInt32}) * 86400 + row.4 * 86400 + 1800) AS _timestamp
FROM numbers(toUInt64(n_teams) * {persons_per_team:UInt32})
WHERE (row.1 LIKE 'user-%' AND row.3 = 0)
   OR (row.1 LIKE 'anon-%' AND person_idx % 5 = 0 AND row.4 = 0)
   OR (row.1 LIKE 'anon-%' AND person_idx % 35 = 0 AND row.4 = 1)
   OR (row.1 LIKE 'user-%' AND row.3 = 1 AND person_idx % 17 = 0 AND h % 3 > 0)
