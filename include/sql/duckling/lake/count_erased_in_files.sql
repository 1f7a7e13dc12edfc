-- Rows of the exported files that belong to erased persons (by the team's erasure digests): a register
-- in flight across an erasure, or an export of events ClickHouse still holds, must not add them back.
SELECT count(*) AS n
FROM read_parquet($paths)
WHERE
@include(duckling/lake/fragments/erased_digest_event)
