#!/usr/bin/env bash
# `make airflow`: a local Airflow 3 (api-server, scheduler, dag-processor; LocalExecutor) on the
# embedded stores in .local/airflow: PostgreSQL (metadata + app DB), moto S3, chdb. Demo data is
# generated on the first start; the pools come from include/pools.json; the project's DAGs are
# unpaused. Ctrl-C stops every process it started. Options: --port N, --parallelism N, --reset,
# --unpause DAG_ID (repeatable). AIRFLOW_PORT sets the port too (default 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/plugins:$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m devtools airflow "$@"
