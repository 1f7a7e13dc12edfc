-- The duckling's person_deletions rewritten as new files without the rows of erased persons (temp table
-- erased_keys), inside the caller's DuckLake transaction: every old file leaves the snapshot whole, so
-- once the older snapshots are expired and cleaned no file holds those rows.
CREATE OR REPLACE TEMP TABLE rewrite_rows AS
SELECT * FROM lake.main.person_deletions
WHERE NOT (key IN (SELECT key FROM erased_keys));

DELETE FROM lake.main.person_deletions;

INSERT INTO lake.main.person_deletions SELECT * FROM rewrite_rows;

DROP TABLE rewrite_rows;
