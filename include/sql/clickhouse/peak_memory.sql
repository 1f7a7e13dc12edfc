-- The peak memory of a task's queries on a ClickHouse server, by query id (the server's query log is
-- flushed every few seconds, so a query that just finished may not be there yet: the result is NULL).
SELECT if(count() = 0, NULL, max(memory_usage)) AS peak
FROM system.query_log
WHERE query_id IN {query_ids:Array(String)} AND type = 'QueryFinish'
  AND event_date >= yesterday()
