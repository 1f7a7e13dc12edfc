-- How many persons / distinct ids of a team changed (any version written) in the UTC day, or in total
-- when full = 1. Decides whether the persons export writes a file at all.
SELECT
    (SELECT uniqExact(id) FROM person
      WHERE team_id = {team_id:Int64}
        AND ({full:UInt8} = 1 OR (_timestamp >= toDateTime({day:Date}, 'UTC')
                                  AND _timestamp < toDateTime({day:Date} + 1, 'UTC')))) AS persons,
    (SELECT uniqExact(distinct_id) FROM person_distinct_id2
      WHERE team_id = {team_id:Int64}
        AND ({full:UInt8} = 1 OR (_timestamp >= toDateTime({day:Date}, 'UTC')
                                  AND _timestamp < toDateTime({day:Date} + 1, 'UTC')))) AS distinct_ids
