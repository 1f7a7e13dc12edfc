-- The duckling registry, written by the application's provisioning and only read by this package, which
-- never runs this DDL (the tests, the demo and docker-compose's init stand in for the application).
-- One row per duckling (a customer's isolated DuckLake). Two forms:
--  * remote: bucket (+ bucket_region) on S3, catalog in the customer's PostgreSQL (db_*). The
--    password is either plaintext db_password (accepted, and masked in logs) or db_password_conn_id,
--    the id of an Airflow connection whose password is used. Optional cross_account_role_arn +
--    cross_account_external_id: S3 access through STS assume_role.
--    Optional db_sslmode (libpq's sslmode: verify-full for a catalog reached over a network) and
--    db_sslrootcert (the CA file's absolute path on the workers, or 'system'); a registry without these
--    columns works as before (the package reads the columns the table has).
--  * local (embedded demo): catalog_path names a DuckLake file catalog; the data still goes to bucket
--    on the S3 endpoint of aws_default. db_* are NULL.
CREATE TABLE IF NOT EXISTS duckling_registry (
    team_id BIGINT PRIMARY KEY,
    bucket TEXT NOT NULL,
    bucket_region TEXT NOT NULL DEFAULT 'us-east-1',
    db_host TEXT,
    db_port INTEGER,
    db_database TEXT,
    db_username TEXT,
    db_password TEXT,
    db_password_conn_id TEXT,
    cross_account_role_arn TEXT,
    cross_account_external_id TEXT,
    catalog_path TEXT,
    db_sslmode TEXT,
    db_sslrootcert TEXT
);
