"""Airflow's REST API on 127.0.0.1 as the tests drive it: the launcher's Airflow (tests/test_airflow_operator.py) and
the cluster's (tests/test_cluster.py), each logged in with the simple auth manager's generated admin password."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

DAG = "/api/v2/dags/vtr_daily"


class AirflowApi:
    """The REST API of an Airflow whose api-server listens on `port`; `login` takes the token."""

    port: int
    token: str | None = None

    def login(self, output: str) -> None:
        """Log in as admin with the password the launcher or cluster-up printed (`login admin / <password>`)."""
        password = re.search(r"login admin / (\S+)", output).group(1)
        body = {"username": "admin", "password": password}
        self.token = self.request("POST", "/auth/token", body, auth=False)["access_token"]

    def request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {self.token}"} if auth else {})
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=180) as answer:  # past SQLite's 60 s busy wait, on 2 busy cores
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    def trigger(self, conf: dict) -> str:
        """A run of vtr_daily without a logical date; its run id."""
        return self.request("POST", f"{DAG}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]

    def reparse(self) -> None:
        """Ask the dag-processor to parse vtr_daily's file now (what the UI's reparse button does), not at its next
        round: what the DAG reads when parsed (the run timeout) then follows a settings change within seconds."""
        token = self.request("GET", f"{DAG}/details")["file_token"]
        self.request("PUT", f"/api/v2/parseDagFile/{token}")

    def wait(self, run_id: str, seconds: float = 240) -> dict:
        """The run once it ended (success or failed)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            run = self.request("GET", f"{DAG}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(2)
        raise AssertionError(f"{run_id} still {run['state']} after {seconds} s")

    def tasks(self, run_id: str) -> dict[str, dict]:
        """The run's task instances by task id, a mapped one as `task_id[map_index]`."""
        found = self.request("GET", f"{DAG}/dagRuns/{run_id}/taskInstances?limit=100")
        return {
            t["task_id"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else ""): t for t in found["task_instances"]
        }
