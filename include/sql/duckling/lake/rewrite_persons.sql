-- The duckling's persons rewritten as new files without the rows of erased persons (temp table
-- erased_keys), inside the caller's DuckLake transaction: every old file leaves the snapshot whole, so
-- once the older snapshots are expired and cleaned no file holds those rows.
CREATE OR REPLACE TEMP TABLE rewrite_rows AS
SELECT * FROM lake.main.persons
WHERE NOT (CAST(id AS VARCHAR) IN (SELECT key FROM erased_keys WHERE kind = 'person'));

DELETE FROM lake.main.persons;

INSERT INTO lake.main.persons SELECT * FROM rewrite_rows;

DROP TABLE rewrite_rows;
