-- Rows in one exported Parquet object (read from the Parquet footer).
SELECT count() AS n
FROM s3({url:String}, {key_id:String}, {secret:String}, {session_token:String}, 'Parquet')
