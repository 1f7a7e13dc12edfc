-- Deterministic web traffic for every team in {team_ids} over {days} days from {start_day}: sessions
-- of 1-6 pageviews (plus a pageleave and some autocapture) across hosts, paths, UTM tags, devices and
-- countries. Session starts are uniform over the day, so late sessions cross midnight. Everything is
-- derived from cityHash64(seed, ...), so the same seed gives the same rows.
INSERT INTO events (uuid, event, properties, timestamp, team_id, distinct_id, person_id, session_id,
                    elements_chain, created_at, _timestamp)
WITH
    length({team_ids:Array(Int64)}) AS n_teams,
    {team_ids:Array(Int64)}[1 + (number % n_teams)] AS team_id,
    (number % n_teams) AS team_idx,
    intDiv(number, n_teams) % {days:UInt32} AS day_idx,
    intDiv(number, n_teams * {days:UInt32}) AS session_idx,
    cityHash64({seed:UInt64}, team_id, day_idx, session_idx) AS h,
    {start_day:Date} + day_idx AS day,
    toDateTime64(day, 6, 'UTC') + toIntervalMicrosecond(h % 86400000000) AS session_start,
    1 + (h % 6) AS pageviews,
    h % {persons_per_team:UInt32} AS person_idx,
    arrayJoin(range(toUInt64(pageviews + 1 + (intDiv(h, 7) % 3 = 0)))) AS i,
    cityHash64(h, i) AS hi,
    multiIf(i < pageviews, '$pageview', i = pageviews, '$pageleave', '$autocapture') AS event_name,
    session_start + toIntervalMicrosecond(i * (60000000 + (hi % 540000000))) AS ts,
    ['example.com', 'app.example.com', 'docs.example.com'][1 + intDiv(h, 11) % 3] AS host,
    ['/', '/pricing', '/docs', '/blog', '/signup', '/login', '/features', '/about'][1 + hi % 8] AS pathname,
    ['', 'google', 'twitter', 'newsletter'][1 + intDiv(h, 13) % 4] AS utm_source,
    ['', 'cpc', 'social', 'email'][1 + intDiv(h, 13) % 4] AS utm_medium,
    ['', 'spring_sale', 'launch', 'weekly'][1 + intDiv(h, 17) % 4] AS utm_campaign,
    ['Desktop', 'Mobile', 'Tablet'][1 + intDiv(h, 19) % 3] AS device_type,
    ['Chrome', 'Safari', 'Firefox', 'Edge'][1 + intDiv(h, 23) % 4] AS browser,
    ['Mac OS X', 'Windows', 'iOS', 'Android', 'Linux'][1 + intDiv(h, 29) % 5] AS os,
    ['US', 'DE', 'GB', 'FR', 'BR', 'IN', 'JP'][1 + intDiv(h, 31) % 7] AS country_code,
    ['$direct', 'google.com', 'twitter.com', 'news.ycombinator.com'][1 + intDiv(h, 37) % 4] AS referring_domain,
    concat(leftPad(hex(cityHash64({seed:UInt64}, 'person', team_id, person_idx)), 16, '0'),
           leftPad(hex(cityHash64({seed:UInt64}, 'person2', team_id, person_idx)), 16, '0')) AS person_hex,
    concat(leftPad(hex(hi), 16, '0'), leftPad(hex(cityHash64({seed:UInt64}, hi)), 16, '0')) AS event_hex
SELECT
    toUUID(concat(substring(event_hex, 1, 8), '-', substring(event_hex, 9, 4), '-', substring(event_hex, 13, 4),
                  '-', substring(event_hex, 17, 4), '-', substring(event_hex, 21, 12))) AS uuid,
    event_name AS event,
    toJSONString(map(
        '$host', host, '$pathname', pathname, '$current_url', concat('https://', host, pathname),
        '$device_type', device_type, '$browser', browser, '$os', os, '$geoip_country_code', country_code,
        '$referring_domain', referring_domain, 'utm_source', utm_source, 'utm_medium', utm_medium,
        'utm_campaign', utm_campaign, '$session_id', concat('s-', toString(team_id), '-', hex(h)))) AS properties,
    ts AS timestamp,
    team_id,
    if(person_idx % 5 = 0 AND i = 0, concat('anon-', toString(team_id), '-', toString(person_idx)),
       concat('user-', toString(team_id), '-', toString(person_idx))) AS distinct_id,
    toUUID(concat(substring(person_hex, 1, 8), '-', substring(person_hex, 9, 4), '-', substring(person_hex, 13, 4),
                  '-', substring(person_hex, 17, 4), '-', substring(person_hex, 21, 12))) AS person_id,
    concat('s-', toString(team_id), '-', hex(h)) AS session_id,
    if(event_name = '$autocapture', 'button.btn:text="Sign up"nth-child="1"', '') AS elements_chain,
    ts AS created_at,
    toDateTime(ts, 'UTC') AS _timestamp
FROM numbers(toUInt64(n_teams) * {days:UInt32} * {sessions_per_day:UInt32})
WHERE session_idx < {sessions_per_day:UInt32} * (1 + team_idx % 3) / 3
