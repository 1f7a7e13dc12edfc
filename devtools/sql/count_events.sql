-- Number of raw events (the demo's headline figure).
SELECT count() AS events FROM events
