-- Staging tables left behind by killed tasks (their names carry the creation time, see recompute.py).
SELECT name FROM system.tables
WHERE database = currentDatabase() AND startsWith(name, 'web_preagg_staging_')
ORDER BY name
