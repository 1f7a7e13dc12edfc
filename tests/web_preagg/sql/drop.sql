DROP TABLE IF EXISTS {t:Identifier}
