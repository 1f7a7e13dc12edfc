"""A small client of Airflow's REST API: the same calls the UI makes (trigger, runs, pools, DAGs)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class AirflowError(RuntimeError):
    pass


class AirflowRest:
    """REST calls against ``base_url``; ``check_alive`` lets a launcher fail fast while waiting."""

    base_url: str
    _token: str | None = None

    def check_alive(self) -> None:
        """Raise when the server is known to be gone (a launcher overrides it)."""

    def token(self) -> str:
        if self._token is None:
            # all-admins mode: GET /auth/token hands out an admin token without credentials
            self._token = self.api("GET", "/auth/token", auth=False)["access_token"]
        return self._token

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        expect: tuple[int, ...] = (200, 201, 204),
        timeout: float = 30,
    ) -> Any:
        """Call the api-server; return the decoded JSON. A status outside ``expect`` raises ApiError."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        payload = json.loads(raw) if raw else None
        if status not in expect:
            raise ApiError(status, method, path, payload)
        return payload

    def import_errors(self) -> dict[str, str]:
        """File name -> the dag-processor's traceback, for every DAG file that failed to import."""
        errors = self.api("GET", "/api/v2/importErrors?limit=100").get("import_errors", [])
        return {e.get("filename", "?"): e.get("stack_trace", "") for e in errors}

    def wait_for_dags(
        self, dag_ids: tuple[str, ...] | list[str], timeout: float = 180, files: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Wait until the dag-processor has serialized each DAG; return ``{dag_id: traceback}`` for the
        DAGs whose file (``files[dag_id]``, a file name in the dags folder) failed to import. Without
        ``files`` any import error raises at once."""
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        failed: dict[str, str] = {}
        while True:
            self.check_alive()
            missing = [d for d in missing if not self.dag_exists(d)]
            errors = self.import_errors()
            if errors and files is None:
                raise AirflowError(
                    "DAG import errors: "
                    + "; ".join(f"{name}: {trace[-1500:]}" for name, trace in errors.items())
                )
            for dag_id in missing:
                for name, trace in errors.items():
                    if files and Path(name).name == files.get(dag_id):
                        failed[dag_id] = trace
            missing = [d for d in missing if d not in failed]
            if not missing:
                return failed
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"DAGs {missing} not parsed after {timeout:.0f}s; dag-processor log:\n"
                    f"{self.log_tail('dag-processor')}"
                )
            time.sleep(2)

    def dag_exists(self, dag_id: str) -> bool:
        return self.api("GET", f"/api/v2/dags/{dag_id}", expect=(200, 404)).get("dag_id") == dag_id

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def set_pool_slots(self, pool: str, slots: int) -> None:
        self.api("PATCH", f"/api/v2/pools/{pool}", {"slots": slots})

    def trigger(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        *,
        logical_date: str | None = None,
        run_id: str | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> dict[str, Any]:
        """POST /api/v2/dags/{id}/dagRuns: what the UI's trigger form sends."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body, expect=expect)

    def wait_until(self, check, what: str, timeout: float = 300, interval: float = 1.0) -> Any:
        """Poll ``check()`` (REST reads) until it returns something truthy, or fail after ``timeout``
        naming ``what`` and the last value seen; fails at once if the server is known to be gone."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AirflowError(f"{what}: not reached after {timeout:.0f}s (last seen: {value!r})")
            time.sleep(interval)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise AirflowError(f"run {dag_id}/{run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.api(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100&offset={len(out)}"
            )
            out += page["task_instances"]
            if len(out) >= page["total_entries"] or not page["task_instances"]:
                return out


class ApiError(AirflowError):
    def __init__(self, status: int, method: str, path: str, payload: Any):
        super().__init__(f"{method} {path} -> HTTP {status}: {json.dumps(payload)[:2000]}")
        self.status = status
        self.payload = payload
