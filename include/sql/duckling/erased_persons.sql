-- The persons of team {team_id} whose current version (highest) is deleted and was written after the
-- erasure watermark {after} (exclusive), with every distinct id that ever pointed to them: what the
-- duckling must forget. One row per person; newest_at is the deletion's _timestamp (the next watermark).
SELECT toString(p.id) AS person_id,
       toDateTime64(p.deleted_at_s, 6, 'UTC') AS deleted_at,
       arrayDistinct(groupArray(d.distinct_id)) AS distinct_ids
FROM
(
    SELECT id, max(_timestamp) AS deleted_at_s
    FROM person
    WHERE team_id = {team_id:Int64}
    GROUP BY id
    HAVING argMax(is_deleted, version) = 1 AND deleted_at_s > {after:DateTime64(6, 'UTC')}
) AS p
LEFT JOIN
(
    SELECT DISTINCT person_id, distinct_id FROM person_distinct_id2 WHERE team_id = {team_id:Int64}
) AS d ON d.person_id = p.id
GROUP BY p.id, p.deleted_at_s
ORDER BY p.id
