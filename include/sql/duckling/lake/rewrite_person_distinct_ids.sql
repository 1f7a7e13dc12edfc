-- The duckling's person_distinct_ids rewritten as new files without the rows of erased persons (temp table
-- erased_keys), inside the caller's DuckLake transaction: every old file leaves the snapshot whole, so
-- once the older snapshots are expired and cleaned no file holds those rows.
CREATE OR REPLACE TEMP TABLE rewrite_rows AS
SELECT * FROM lake.main.person_distinct_ids
WHERE NOT (CAST(person_id AS VARCHAR) IN (SELECT key FROM erased_keys WHERE kind = 'person')
        OR distinct_id IN (SELECT key FROM erased_keys WHERE kind = 'distinct_id'));

DELETE FROM lake.main.person_distinct_ids;

INSERT INTO lake.main.person_distinct_ids SELECT * FROM rewrite_rows;

DROP TABLE rewrite_rows;
