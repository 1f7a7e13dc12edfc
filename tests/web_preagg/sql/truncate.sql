TRUNCATE TABLE {t:Identifier}
