-- The duckling's person_distinct_ids rewritten as new files without the mappings of erased persons (temp
-- table erased_keys: the ids that resolve to them now, and any row still naming an erased person
-- except the ids a merge moved away), inside the caller's DuckLake transaction: every old file leaves the
-- snapshot whole, so once the older snapshots are expired and cleaned no file holds those rows.
CREATE OR REPLACE TEMP TABLE rewrite_rows AS
SELECT * FROM lake.main.person_distinct_ids
WHERE NOT
@include(duckling/lake/fragments/erased_event)
;

DELETE FROM lake.main.person_distinct_ids;

INSERT INTO lake.main.person_distinct_ids SELECT * FROM rewrite_rows;

DROP TABLE rewrite_rows;
