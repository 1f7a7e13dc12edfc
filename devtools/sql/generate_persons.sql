-- Versioned persons for every team in {team_ids}: person p has 1-3 versions written on successive days
-- from {start_day}; every 17th person's last version is a deletion. Same ids as demo/generate_events.
INSERT INTO person (id, created_at, team_id, properties, is_identified, is_deleted, version, _timestamp)
WITH
    length({team_ids:Array(Int64)}) AS n_teams,
    {team_ids:Array(Int64)}[1 + (number % n_teams)] AS team_id,
    intDiv(number, n_teams) AS person_idx,
    cityHash64({seed:UInt64}, 'versions', team_id, person_idx) AS h,
    arrayJoin(range(toUInt64(1 + h % 3))) AS v,
    (h % 3) AS last_v,
    concat(leftPad(hex(cityHash64({seed:UInt64}, 'person', team_id, person_idx)), 16, '0'),
           leftPad(hex(cityHash64({seed:UInt64}, 'person2', team_id, person_idx)), 16, '0')) AS person_hex,
    toDateTime({start_day:Date}, 'UTC') + toIntervalSecond((h % {days:UInt32}) * 86400 + v * 86400 + h % 3600) AS written_at
SELECT
    toUUID(concat(substring(person_hex, 1, 8), '-', substring(person_hex, 9, 4), '-', substring(person_hex, 13, 4),
                  '-', substring(person_hex, 17, 4), '-', substring(person_hex, 21, 12))) AS id,
    toDateTime64(toDateTime({start_day:Date}, 'UTC') + toIntervalSecond((h % {days:UInt32}) * 86400), 3, 'UTC') AS created_at,
    team_id,
    toJSONString(map('email', concat('user', toString(person_idx), '@team', toString(team_id), '.example'),
                     'plan', ['free', 'pro', 'enterprise'][1 + (v + h) % 3], 'version_note', toString(v))) AS properties,
    toInt8(v > 0) AS is_identified,
    toInt8(person_idx % 17 = 0 AND v = last_v AND v > 0) AS is_deleted,
    toUInt64(v) AS version,
    written_at AS _timestamp
FROM numbers(toUInt64(n_teams) * {persons_per_team:UInt32})
