"""Development tooling, never deployed: the local stack (PostgreSQL, moto S3), a local Airflow, the demo.

A deployment copies ``dags/``, ``plugins/backfill/`` and ``include/``; nothing there imports this package.
"""
