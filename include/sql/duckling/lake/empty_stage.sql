-- Empty staging tables (a day without person changes of one of the two kinds).
CREATE OR REPLACE TEMP TABLE new_persons (team_id BIGINT, id UUID, created_at TIMESTAMPTZ, properties VARCHAR,
    is_identified BOOLEAN, is_deleted BOOLEAN, version BIGINT);
CREATE OR REPLACE TEMP TABLE new_distinct_ids (team_id BIGINT, distinct_id VARCHAR, person_id UUID,
    is_deleted BOOLEAN, version BIGINT);
