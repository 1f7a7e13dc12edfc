-- Deterministic traffic for every team in {team_ids} over {days} days from {start_day}. Web teams send
-- $pageview sessions (plus a $pageleave, some $autocapture); teams in {mobile_team_ids} send $screen
-- sessions from an app. Session ids are UUIDv7 carrying the session's start (ms). Starts are uniform over
-- the day, so late sessions cross midnight; one session in ten is long (20-40 min between events, up to
-- 4 h), one in ten a single pageview (a bounce), one in ten a pageview and a quick exit (0-19 s: a bounce
-- below 10 s), one in ten a pageview and a quick click (never a bounce: two events that count). UTM tags, click ids and the referrer are on the session's first event only; later events
-- are internal navigation. One session in five changes geo after its second event (geo per table). Every
-- 5th person's first event comes from an anonymous distinct id (see generate_overrides.sql). Everything is
-- derived from cityHash64(seed, ...), so the same seed gives the same rows.
INSERT INTO events (uuid, event, properties, timestamp, team_id, distinct_id, person_id, session_id,
                    elements_chain, created_at, _timestamp)
WITH
    length({team_ids:Array(Int64)}) AS n_teams,
    {team_ids:Array(Int64)}[1 + (number % n_teams)] AS team_id,
    (number % n_teams) AS team_idx,
    has({mobile_team_ids:Array(Int64)}, team_id) AS mobile,
    intDiv(number, n_teams) % {days:UInt32} AS day_idx,
    intDiv(number, n_teams * {days:UInt32}) AS session_idx,
    cityHash64({seed:UInt64}, team_id, day_idx, session_idx) AS h,
    {start_day:Date} + day_idx AS day,
    toDateTime64(day, 6, 'UTC') + toIntervalMicrosecond(h % 86400000000) AS session_start,
    -- 0 long, 1 single pageview, 2 pageview + quick exit, 3 pageview + quick click, else ordinary
    intDiv(h, 43) % 10 AS kind,
    if(kind IN (1, 2, 3), 1, 1 + h % 6) AS pageviews,
    kind NOT IN (1, 3) AND NOT mobile AS has_leave,
    kind = 3 OR (kind NOT IN (1, 2) AND intDiv(h, 7) % 3 = 0) AS has_autocapture,
    arrayJoin(range(toUInt64(pageviews + has_leave + has_autocapture))) AS i,
    cityHash64(h, i) AS hi,
    multiIf(i < pageviews, if(mobile, '$screen', '$pageview'), i = pageviews AND has_leave, '$pageleave',
            '$autocapture') AS event_name,
    multiIf(kind = 0, 1200000000 + hi % 1200000000, kind IN (2, 3), 1 + (hi % 20) * 1000000,
            60000000 + hi % 540000000) AS gap_us,
    session_start + toIntervalMicrosecond(i * gap_us) AS ts,
    lower(leftPad(hex(toUInt64(toUnixTimestamp64Milli(session_start))), 12, '0')) AS ms_hex,
    lower(concat(leftPad(hex(cityHash64({seed:UInt64}, 'sid', h)), 16, '0'),
                 leftPad(hex(cityHash64({seed:UInt64}, 'sid2', h)), 16, '0'))) AS sid_hex,
    concat(substring(ms_hex, 1, 8), '-', substring(ms_hex, 9, 4), '-7', substring(sid_hex, 1, 3), '-',
           ['8', '9', 'a', 'b'][1 + h % 4], substring(sid_hex, 4, 3), '-', substring(sid_hex, 7, 12)) AS session_id,
    if(mobile, '', ['example.com', 'app.example.com', 'docs.example.com'][1 + intDiv(h, 11) % 3]) AS host,
    if(mobile, '', ['/', '/pricing', '/docs', '/blog', '/signup', '/login', '/features', '/about'][1 + hi % 8]) AS pathname,
    ['Home', 'Settings', 'Profile', 'Checkout', 'Search'][1 + hi % 5] AS screen_name,
    if(mobile, ['Mobile', 'Tablet'][1 + intDiv(h, 19) % 2], ['Desktop', 'Mobile', 'Tablet'][1 + intDiv(h, 19) % 3]) AS device_type,
    if(mobile, '', ['Chrome', 'Safari', 'Firefox', 'Edge'][1 + intDiv(h, 23) % 4]) AS browser,
    if(mobile, ['iOS', 'Android'][1 + intDiv(h, 29) % 2], ['Mac OS X', 'Windows', 'iOS', 'Android', 'Linux'][1 + intDiv(h, 29) % 5]) AS os,
    [1440, 1920, 390, 768][1 + intDiv(h, 53) % 4] AS viewport_width,
    [900, 1080, 844, 1024][1 + intDiv(h, 53) % 4] AS viewport_height,
    -- geo of the event: one session in five moves after its second event
    (intDiv(h, 31) % 8 + if(intDiv(h, 41) % 5 = 0 AND i >= 2, 3, 0)) % 8 AS g,
    ['US', 'US', 'DE', 'GB', 'FR', 'BR', 'IN', 'JP'][1 + g] AS country_code,
    ['San Francisco', 'New York', 'Berlin', 'London', 'Paris', 'São Paulo', 'Mumbai', 'Tokyo'][1 + g] AS city_name,
    ['CA', 'NY', 'BE', 'ENG', 'IDF', 'SP', 'MH', '13'][1 + g] AS region_code,
    ['California', 'New York', 'Berlin', 'England', 'Île-de-France', 'São Paulo', 'Maharashtra', 'Tokyo'][1 + g] AS region_name,
    -- acquisition, on the first event of the session only
    i = 0 AS entry,
    if(entry, ['$direct', 'google.com', 'twitter.com', 'news.ycombinator.com'][1 + intDiv(h, 37) % 4], if(mobile, '$direct', host)) AS referring_domain,
    if(entry, ['', 'google', 'twitter', 'newsletter'][1 + intDiv(h, 13) % 4], '') AS utm_source,
    if(entry, ['', 'cpc', 'social', 'email'][1 + intDiv(h, 13) % 4], '') AS utm_medium,
    if(entry, ['', 'spring_sale', 'launch', 'weekly'][1 + intDiv(h, 17) % 4], '') AS utm_campaign,
    if(entry, ['', 'analytics', 'backfill'][1 + intDiv(h, 59) % 3], '') AS utm_term,
    if(entry, ['', 'banner', 'link'][1 + intDiv(h, 61) % 3], '') AS utm_content,
    intDiv(h, 47) % 6 AS click,
    -- click 4 / 5: the literal 'null' some SDKs send for an absent click id (PostHog counts it as none)
    if(entry, multiIf(click = 0, concat('Cj0K', substring(sid_hex, 1, 8)), click = 4, 'null', ''), '') AS gclid,
    if(entry, ['1', '1', '2', '', '', ''][1 + click], '') AS gad_source,
    if(entry, multiIf(click = 3, concat('IwAR', substring(sid_hex, 19, 8)), click = 5, 'null', ''), '') AS fbclid,
    h % {persons_per_team:UInt32} AS person_idx,
    concat(leftPad(hex(cityHash64({seed:UInt64}, 'person', team_id, person_idx)), 16, '0'),
           leftPad(hex(cityHash64({seed:UInt64}, 'person2', team_id, person_idx)), 16, '0')) AS person_hex,
    concat(leftPad(hex(hi), 16, '0'), leftPad(hex(cityHash64({seed:UInt64}, hi)), 16, '0')) AS event_hex,
    toJSONString(mapFilter((k, v) -> v != '', map(
        '$host', host, '$pathname', pathname, '$current_url', if(mobile, '', concat('https://', host, pathname)),
        '$screen_name', if(mobile, screen_name, ''), '$device_type', device_type, '$browser', browser, '$os', os,
        '$geoip_country_code', country_code, '$geoip_city_name', city_name, '$geoip_subdivision_1_code', region_code,
        '$geoip_subdivision_1_name', region_name, '$referring_domain', referring_domain,
        'utm_source', utm_source, 'utm_medium', utm_medium, 'utm_campaign', utm_campaign, 'utm_term', utm_term,
        'utm_content', utm_content, 'gclid', gclid, 'gad_source', gad_source, 'fbclid', fbclid,
        '$session_id', session_id))) AS string_properties
SELECT
    toUUID(concat(substring(event_hex, 1, 8), '-', substring(event_hex, 9, 4), '-', substring(event_hex, 13, 4),
                  '-', substring(event_hex, 17, 4), '-', substring(event_hex, 21, 12))) AS uuid,
    event_name AS event,
    concat(substring(string_properties, 1, length(string_properties) - 1), ',"$viewport_width":',
           toString(viewport_width), ',"$viewport_height":', toString(viewport_height), '}') AS properties,
    ts AS timestamp,
    team_id,
    if(person_idx % 5 = 0 AND i = 0, concat('anon-', toString(team_id), '-', toString(person_idx)),
       concat('user-', toString(team_id), '-', toString(person_idx))) AS distinct_id,
    toUUID(concat(substring(person_hex, 1, 8), '-', substring(person_hex, 9, 4), '-', substring(person_hex, 13, 4),
                  '-', substring(person_hex, 17, 4), '-', substring(person_hex, 21, 12))) AS person_id,
    session_id,
    if(event_name = '$autocapture', 'button.btn:text="Sign up"nth-child="1"', '') AS elements_chain,
    ts AS created_at,
    toDateTime(ts, 'UTC') AS _timestamp
FROM numbers(toUInt64(n_teams) * {days:UInt32} * {sessions_per_day:UInt32})
WHERE session_idx < {sessions_per_day:UInt32} * (1 + team_idx % 3) / 3
