"""One task attempt in its own process, as a scheduler runs it (used by the fault suite's crash rows):
``python fault_task.py export|register '<json>'``. An armed fault point of action ``kill`` SIGKILLs this
process; the parent sees returncode -9 and runs the next attempt in a new process. Prints the task's
return value (JSON) on success; exit 3 with the error's text and class on a partition error."""

from __future__ import annotations

import json
import sys


def main(step: str, payload: dict) -> int:
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.duckling.errors import DucklingError
    from backfill.duckling.export import export_partition
    from backfill.duckling.params import parse_params
    from backfill.duckling.register import register_partition
    from backfill.duckling.run import Env, RunInfo

    env = Env(ch=ClickHouse.from_conn_id(), db=AppDB.from_conn_id(), aws_conn_id=payload["aws_conn_id"])
    run = RunInfo(payload["dag_id"], payload["run_id"], try_number=payload["try_number"])
    options = parse_params(payload["options"])
    try:
        if step == "export":
            out = export_partition(payload["item"], options, run, env)
        else:
            out = register_partition(payload["exported"], options, run, env)
    except DucklingError as err:
        print(json.dumps({"error": str(err), "transient": err.transient}))
        return 3
    finally:
        env.ch.close()
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], json.loads(sys.argv[2])))
