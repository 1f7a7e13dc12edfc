-- Drop a task-private staging table (names always start with web_preagg_staging_, checked in Python).
DROP TABLE IF EXISTS {staging:Identifier}
