-- The data files of the events table in the current snapshot (what a reader sees now).
SELECT data_file FROM ducklake_list_files('lake', 'events', schema => 'main')
