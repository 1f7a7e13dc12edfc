-- Mutations ever started on a table: a lightweight DELETE that is not a patch part is one.
SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = {t:String}
