"""The freshness family (the ``backfill_freshness`` DAG): per covered family, how far behind each team
is and whether yesterday was complete by its deadline. Modules: objective (the check), tasks (the DAG's
task bodies)."""
