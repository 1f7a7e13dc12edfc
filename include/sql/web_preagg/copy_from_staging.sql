-- Copy the staged team-day into the target. The staging table was created AS the target, so the
-- columns line up one to one.
INSERT INTO {target:Identifier} SELECT * FROM {staging:Identifier}
