-- Refill table {dst} (emptied first) from its saved copy {src}.
INSERT INTO {dst:Identifier} SELECT * FROM {src:Identifier}
