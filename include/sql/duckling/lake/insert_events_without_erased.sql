-- Write a day's exported rows into the lake without those of erased persons (DuckLake writes the new
-- file itself), inside the register transaction: the path taken only when the files hold such rows.
INSERT INTO lake.main.events BY NAME
SELECT uuid, event, properties, "timestamp", team_id, distinct_id, person_id, session_id, elements_chain,
       created_at
FROM read_parquet($paths)
WHERE NOT
@include(duckling/lake/fragments/erased_digest_event)
