-- Stop (or start) background merges of the events table, so stored duplicates stay stored while a test
-- compares what PostHog's daily job reads (every row) with what a deduplicating read sees.
SYSTEM STOP MERGES events
