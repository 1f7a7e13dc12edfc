-- Whether an events row belongs to an erased person (temp table erased_keys: kind 'distinct_id' = ids
-- that resolve to an erased person now, 'person' = erased person ids, 'kept_id' = ids a merge moved
-- away from an erased person, which stay with their current person). NULL-safe: a row without a
-- distinct id or person is never erased by accident.
coalesce(distinct_id IN (SELECT key FROM erased_keys WHERE kind = 'distinct_id')
         OR (CAST(person_id AS VARCHAR) IN (SELECT key FROM erased_keys WHERE kind = 'person')
             AND distinct_id NOT IN (SELECT key FROM erased_keys WHERE kind = 'kept_id')), false)
