-- Keep a copy of table {src} as {dst} (tests restore from it instead of regenerating the world).
CREATE TABLE {dst:Identifier} ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM {src:Identifier}
