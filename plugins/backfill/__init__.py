"""backfill: the logic behind the web_preagg_backfill and duckling backfill DAGs.

Importable without a scheduler; the DAG files in dags/ only wire these functions into tasks.
"""
