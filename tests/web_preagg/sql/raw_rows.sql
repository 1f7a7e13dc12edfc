-- Every row of a table in [start_day, end_day] as its RowBinary bytes (hex), for byte-identity checks.
SELECT team_id, toDate(period_bucket, 'UTC') AS day, hex(formatRowNoNewline('RowBinary', *)) AS row
FROM {t:Identifier}
WHERE period_bucket >= toDateTime({start_day:Date}, 'UTC') AND period_bucket < toDateTime({end_day:Date} + 1, 'UTC')
ORDER BY team_id, day, row
