"""The jobs capability over HTTP: the public methods of ``JobsService`` the Python API, the
magics and the CLI call. Runs are executed by the central service's scheduler; notebook paths
are relative to the service's root (``base``, the caller's folder, means nothing there)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..errors import InvalidInput
from .client import ServiceClient, items

FINAL_STATES = ("succeeded", "failed", "cancelled", "timed_out", "upstream_failed")


def _q(value: str) -> str:
    return quote(str(value), safe="")


def _clean(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}


class RemoteJobs:
    remote = True

    def __init__(self, ws, client: ServiceClient) -> None:
        self.ws = ws
        self.client = client

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict:
        return self.client.get("jobs/scheduler").get("service") or {}

    def schedulers(self, *, include_gone: bool = False) -> list[dict]:
        answer = self.client.get("jobs/scheduler")
        scheduler = answer.get("scheduler")
        if not scheduler:
            return []
        return [{**scheduler, "serving": True, "alive": True}]

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, name: str, notebook: str, *, base: str | None = None, **spec: Any) -> dict:
        return self.client.post("jobs", {"name": name, "notebook": notebook, **_clean(spec)})

    def update_job(self, ref: str, *, base: str | None = None, **changes: Any) -> dict:
        return self.client.call("PATCH", f"jobs/{_q(ref)}", json=changes)

    def pause_job(self, ref: str) -> dict:
        return self.client.post(f"jobs/{_q(ref)}/pause")

    def resume_job(self, ref: str) -> dict:
        return self.client.post(f"jobs/{_q(ref)}/resume")

    def delete_job(self, ref: str) -> None:
        self.client.call("DELETE", f"jobs/{_q(ref)}")

    def get_job(self, ref: str) -> dict:
        return self.client.get(f"jobs/{_q(ref)}")

    def list_jobs(
        self,
        *,
        owner: str | None = None,
        tag: str | None = None,
        active: bool | None = None,
        q: str | None = None,
        **more: Any,
    ) -> list[dict]:
        params = _clean(
            {
                "owner": owner,
                "tag": tag,
                "q": q,
                "active": None if active is None else str(bool(active)).lower(),
                **more,
            }
        )
        from .client import walk

        return walk(self.client, "jobs", "jobs", params)

    def list_jobs_page(
        self,
        *,
        owner: str | None = None,
        tag: str | list[str] | None = None,
        active: bool | None = None,
        q: str | None = None,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
    ) -> dict:
        """One page of ``list_jobs``: the service's envelope."""
        return self.client.get(
            "jobs",
            owner=owner,
            tag=tag,
            q=q,
            active=None if active is None else str(bool(active)).lower(),
            limit=limit,
            offset=offset,
            cursor=cursor,
        )

    def preview_schedule(self, schedule: str, timezone_name: str = "UTC", count: int = 5) -> Any:
        return self.client.get(
            "jobs/schedule-preview", schedule=schedule, timezone=timezone_name, count=count
        )

    def notebook_parameters(self, notebook: str, base: str | None = None) -> dict:
        return self.client.get("jobs/notebook-parameters", notebook=notebook)

    # -- runs ----------------------------------------------------------------------------
    def submit(
        self,
        notebook: str | None = None,
        *,
        job: str | None = None,
        parameters: dict | None = None,
        base: str | None = None,
        **options: Any,
    ) -> dict:
        body = _clean(
            {"notebook": notebook, "job": job, "parameters": parameters or None, **options}
        )
        return self.client.post("runs", body)

    def submit_content(self, *args: Any, **kwargs: Any) -> dict:
        raise InvalidInput(
            "running a notebook's content is not available through the "
            f"mlinfra service at {self.client.url}: save it under the "
            "service's root and run it by path"
        )

    def run_job(
        self,
        ref: str,
        *,
        parameters: dict | None = None,
        wait: bool = False,
        timeout: float | None = None,
        **options: Any,
    ) -> dict:
        run = self.client.post(
            f"jobs/{_q(ref)}/run", _clean({"parameters": parameters or None, **options})
        )
        if wait:
            return self.wait(run["id"], timeout=timeout)
        return run

    def sweep(
        self,
        notebook: str | None = None,
        grid: dict | list | None = None,
        *,
        job: str | None = None,
        parameters: dict | None = None,
        base: str | None = None,
        **options: Any,
    ) -> dict:
        return self.client.post(
            "sweeps",
            _clean(
                {
                    "notebook": notebook,
                    "grid": grid,
                    "job": job,
                    "parameters": parameters or None,
                    **options,
                }
            ),
        )

    def sweep_results(self, sweep_id: str):
        import pandas as pd

        answer = self.client.get(f"sweeps/{_q(sweep_id)}")
        return pd.DataFrame(answer.get("results") or [], columns=answer.get("columns"))

    def sweep_rows(self, sweep_id: str) -> tuple[list[str], list[dict]]:
        answer = self.client.get(f"sweeps/{_q(sweep_id)}")
        rows = answer.get("results") or []
        return list(answer.get("columns") or (rows[0] if rows else [])), rows

    def get_run(self, run_id: str) -> dict:
        return self.client.get(f"runs/{_q(run_id)}")

    def list_runs(
        self, *, parameters: dict | None = None, state: Any = None, **filters: Any
    ) -> dict:
        params = _clean(filters)
        if state is not None:
            params["state"] = state if isinstance(state, str) else ",".join(state)
        for name, value in (parameters or {}).items():
            params[f"param.{name}"] = value if isinstance(value, str) else _json(value)
        answer = self.client.call("GET", "runs", params=params)
        if isinstance(answer, dict) and "items" in answer:
            return answer
        runs = items(answer, "runs")
        return {
            "items": runs,
            "total": len(runs),
            "total_exact": True,
            "limit": params.get("limit"),
            "offset": params.get("offset", 0),
            "next_cursor": None,
        }

    def run_output(self, run_id: str) -> bytes:
        return self.client.content(f"runs/{_q(run_id)}/output")

    def run_log(self, run_id: str, offset: int = 0, limit: int = 10_000) -> dict:
        return self.client.get(f"runs/{_q(run_id)}/log", offset=offset)

    def cancel_run(self, run_id: str) -> dict:
        return self.client.post(f"runs/{_q(run_id)}/cancel")

    def retry_run(self, run_id: str) -> dict:
        return self.client.post(f"runs/{_q(run_id)}/retry")

    # -- waiting -------------------------------------------------------------------------
    # -- inside a run (its kernel holds the run's token) ---------------------------------
    def log_metric(self, run_id: str, name: str, value: float, step: int | None = None) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {name} must be a number, got {value!r}") from None
        self.client.post(
            f"runs/{_q(run_id)}/metrics", _clean({"name": name, "value": number, "step": step})
        )

    def log_artifact(
        self, run_id: str, name: str, data: bytes, metadata: dict | None = None
    ) -> dict:
        import json

        meta = json.dumps({"name": name, "metadata": metadata or {}}, default=str)
        return self.client.call(
            "POST",
            f"runs/{_q(run_id)}/artifacts",
            data={"meta": meta},
            files={"data": ("data", bytes(data), "application/octet-stream")},
        )

    def wait(self, run_id: str, timeout: float | None = None, poll: float = 0.2, **_: Any) -> dict:
        return self.wait_for_runs([run_id], timeout=timeout, poll=poll)[0]

    def run_and_wait(self, run_id: str, timeout: float | None = None) -> dict:
        return self.wait(run_id, timeout=timeout)

    def wait_for_runs(
        self,
        run_ids: list[str],
        *,
        timeout: float | None = None,
        on_update: Callable[[dict], None] | None = None,
        poll: float = 0.2,
    ) -> list[dict]:
        """Follow the runs on the service until they end (its scheduler executes them)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: dict[str, tuple] = {}
        while True:
            runs = [self.get_run(r) for r in run_ids]
            for run in runs:
                marker = (run["state"], repr(run.get("progress")))
                if on_update is not None and last.get(run["id"]) != marker:
                    on_update(run)
                last[run["id"]] = marker
            if all(r["state"] in FINAL_STATES for r in runs):
                return runs
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"runs still going after {timeout} s: "
                    + ", ".join(
                        f"{r['id']} ({r['state']})" for r in runs if r["state"] not in FINAL_STATES
                    )
                )
            time.sleep(poll)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
