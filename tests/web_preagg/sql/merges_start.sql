-- Restart background merges of the events table (see merges.sql).
SYSTEM START MERGES events
