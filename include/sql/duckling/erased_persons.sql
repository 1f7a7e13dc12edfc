-- The persons of team {team_id} to ERASE: current version (highest) deleted, written after {after}
-- (exclusive: the erasure watermark minus the rescan margin), and not merged away. A merge deletes the
-- merged-away person too, but moves every distinct id it had to the survivor (a newer
-- person_distinct_id2 version): deleted is not erased. So, per deleted person, every distinct id that
-- ever pointed to it is resolved to its CURRENT person:
--   distinct_ids  the ids that resolve to it now: erased with it;
--   kept_ids      the ids a merge moved to another person: theirs now, never erased with this one.
-- A deleted person erased = some id still resolves to it, or it never had one. A person whose ids all
-- moved is a merged-away person: nothing is erased (its events belong to the survivor through the
-- moved ids; its own person row leaves the lake by the ordinary version-guarded merge).
-- One row per erased person; deleted_at (the deletion's _timestamp) moves the watermark.
SELECT toString(p.id) AS person_id,
       toInt64(p.max_version) AS version,
       toDateTime64(p.deleted_at_s, 6, 'UTC') AS deleted_at,
       arrayFilter(x -> x != '', groupArray(if(m.now_person = p.id, m.distinct_id, ''))) AS distinct_ids,
       arrayFilter(x -> x != '', groupArray(if(m.now_person != p.id, m.distinct_id, ''))) AS kept_ids,
       max(toInt64(m.ids_version)) AS ids_version
FROM
(
    SELECT id, max(version) AS max_version, max(_timestamp) AS deleted_at_s
    FROM person
    WHERE team_id = {team_id:Int64}
    GROUP BY id
    HAVING argMax(is_deleted, version) = 1 AND deleted_at_s > {after:DateTime64(6, 'UTC')}
) AS p
LEFT JOIN
(
    SELECT ever.person_id AS ever_person, ever.distinct_id AS distinct_id, cur.now_person AS now_person,
           cur.ids_version AS ids_version
    FROM (SELECT DISTINCT person_id, distinct_id FROM person_distinct_id2 WHERE team_id = {team_id:Int64}) AS ever
    INNER JOIN
    (
        SELECT distinct_id, argMax(person_id, version) AS now_person, max(version) AS ids_version
        FROM person_distinct_id2
        WHERE team_id = {team_id:Int64}
        GROUP BY distinct_id
    ) AS cur ON cur.distinct_id = ever.distinct_id
) AS m ON m.ever_person = p.id
GROUP BY p.id, p.max_version, p.deleted_at_s
HAVING length(distinct_ids) > 0 OR countIf(m.distinct_id != '') = 0
ORDER BY p.id
