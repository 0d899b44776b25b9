"""REST doors onto the jobs service: /mlinfra/api/jobs, /runs, /sweeps; and the scheduler
started and stopped with the server (``c.MLInfra.jobs_scheduler_in_server``)."""

from __future__ import annotations

import asyncio
import logging

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.errors import InvalidInput
from ..core.executed_notebooks import content_disposition, run_output_document
from .base import MLInfraHandler
from .notebooks_handlers import send_document

log = logging.getLogger("jupyter_mlinfra.jobs")

_RUN_OPTIONS = (
    "priority",
    "cpus",
    "memory",
    "resources",
    "retries",
    "retry_backoff",
    "timeout",
    "retry_backoff_seconds",
    "timeout_seconds",
    "tags",
    "kernel_name",
    "visibility",
)


def _bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in ("1", "true", "yes", "on")


def _int(value: str | None, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {value!r}") from None


class JobsBase(MLInfraHandler):
    @property
    def jobs(self):
        return self.workspace.service("jobs")


class JobsHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                self.jobs.list_jobs_page,
                tag=self.get_query_arguments("tag") or None,
                active=_bool(self.query("active")),
                q=self.query("q"),
                owner=self.query("owner"),
                limit=self.query("limit"),
                offset=self.query("offset"),
                cursor=self.query("cursor"),
            )
        )

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        name, notebook = body.pop("name", None), body.pop("notebook", None)
        if not name or not notebook:
            raise InvalidInput("a job needs a name and a notebook")
        self.send_json(await self.call(self.jobs.create_job, name, notebook, **body), status=201)


class JobHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        self.send_json(await self.call(self.jobs.get_job, ref))

    @web.authenticated
    @authorized
    async def patch(self, ref: str) -> None:
        self.send_json(await self.call(self.jobs.update_job, ref, **self.json_body()))

    @web.authenticated
    @authorized
    async def delete(self, ref: str) -> None:
        await self.call(self.jobs.delete_job, ref)
        self.set_status(204)
        self.finish()


class JobActionHandler(JobsBase):
    @web.authenticated
    @authorized
    async def post(self, ref: str, action: str) -> None:
        if action == "pause":
            self.send_json(await self.call(self.jobs.pause_job, ref))
        elif action == "resume":
            self.send_json(await self.call(self.jobs.resume_job, ref))
        else:  # run
            body = self.json_body()
            options = {k: body[k] for k in _RUN_OPTIONS if k in body}
            self.send_json(
                await self.call(
                    self.jobs.run_job, ref, parameters=body.get("parameters"), **options
                ),
                status=201,
            )


class SchedulePreviewHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        schedule = self.query("schedule")
        if not schedule:
            raise InvalidInput("give ?schedule=<cron expression>")
        self.send_json(
            await self.call(
                self.jobs.preview_schedule,
                schedule,
                self.query("timezone") or "UTC",
                _int(self.query("count"), "count", 5),
            )
        )


class NotebookParametersHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        notebook = self.query("notebook")
        if not notebook:
            raise InvalidInput("give ?notebook=<path relative to the server root>")
        self.send_json(await self.call(self.jobs.notebook_parameters, notebook))


class SchedulerStatusHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        scheduler = self.settings.get("mlinfra_jobs_scheduler")
        self.send_json(
            {
                "in_server": scheduler is not None,
                "scheduler": await self.call(scheduler.status) if scheduler else None,
                "service": await self.call(self.jobs.status),
            }
        )


class RunsHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        params = {
            k[len("param.") :]: v[-1].decode()
            for k, v in self.request.query_arguments.items()
            if k.startswith("param.")
        }
        self.send_json(
            await self.call(
                self.jobs.list_runs,
                job=self.query("job"),
                state=self.query("state"),
                owner=self.query("owner"),
                trigger=self.query("trigger"),
                tag=self.get_query_arguments("tag") or None,
                sweep=self.query("sweep"),
                pipeline=self.query("pipeline"),
                notebook=self.query("notebook"),
                parameters=params or None,
                q=self.query("q"),
                since=self.query("since"),
                until=self.query("until"),
                limit=_int(self.query("limit"), "limit", 50),
                offset=_int(self.query("offset"), "offset", 0),
                cursor=self.query("cursor"),
            )
        )

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        options = {k: body[k] for k in _RUN_OPTIONS if k in body}
        unknown = set(body) - set(_RUN_OPTIONS) - {"notebook", "job", "parameters"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
        self.send_json(
            await self.call(
                self.jobs.submit,
                body.get("notebook"),
                job=body.get("job"),
                parameters=body.get("parameters"),
                **options,
            ),
            status=201,
        )


class RunHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.send_json(await self.call(self.jobs.get_run, run_id))


class RunActionHandler(JobsBase):
    @web.authenticated
    @authorized
    async def post(self, run_id: str, action: str) -> None:
        if action == "cancel":
            self.send_json(await self.call(self.jobs.cancel_run, run_id))
        else:
            self.send_json(await self.call(self.jobs.retry_run, run_id), status=201)


class RunOutputHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        # ?format=ipynb (default: the notebook, as an attachment) or html (nbconvert, inline
        # unless ?download=true; runs no script): see notebooks_handlers.send_document
        document = await self.call(
            run_output_document, self.workspace, run_id, self.query("format")
        )
        await send_document(self, document, attachment=bool(_bool(self.query("download"))))


# Artifacts a run's page previews inline (each served as its own type); every other type
# is served as an attachment, and every answer with a sandboxing policy, so that a file a
# notebook wrote (an .html, an .svg with a script) never runs with the user's credentials.
_PREVIEW_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".yaml": "text/plain; charset=utf-8",
    ".yml": "text/plain; charset=utf-8",
}
ARTIFACT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def artifact_media_type(name: str) -> str | None:
    """The type a previewable artifact is served as, by its name's extension; None: others."""
    suffix = name.rsplit("/", 1)[-1]
    dot = suffix.rfind(".")
    return _PREVIEW_TYPES.get(suffix[dot:].lower()) if dot > 0 else None


class RunArtifactHandler(JobsBase):
    """The bytes of one artifact a run saved (``?limit=N``: the first N bytes, for a
    preview), read by who may read the run; ``X-Artifact-Size`` holds its whole size."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str, name: str) -> None:
        limit = self.query("limit")
        artifact = await self.call(
            self.jobs.run_artifact, run_id, name, None if limit is None else int(limit)
        )
        media_type = artifact_media_type(name)
        if media_type is None or _bool(self.query("download")):
            self.set_header("Content-Disposition", content_disposition(name.rsplit("/", 1)[-1]))
        self.set_header("Content-Security-Policy", ARTIFACT_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Artifact-Size", str(artifact["size"]))
        self.set_header("Cache-Control", "no-store")
        await self.send_bytes(artifact["data"], media_type or "application/octet-stream")


class RunLogHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.send_json(
            await self.call(self.jobs.run_log, run_id, _int(self.query("offset"), "offset", 0))
        )


class SweepsHandler(JobsBase):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        options = {k: body[k] for k in _RUN_OPTIONS if k in body}
        self.send_json(
            await self.call(
                self.jobs.sweep,
                body.get("notebook"),
                body.get("grid"),
                job=body.get("job"),
                parameters=body.get("parameters"),
                **options,
            ),
            status=201,
        )


class SweepHandler(JobsBase):
    @web.authenticated
    @authorized
    async def get(self, sweep_id: str) -> None:
        self.send_json(await self.call(_sweep_table, self.jobs, sweep_id))


def _sweep_table(jobs, sweep_id: str) -> dict:
    import json

    df = jobs.sweep_results(sweep_id)
    return {
        "id": sweep_id,
        "columns": list(df.columns),
        "results": json.loads(df.to_json(orient="records")),
    }


_ID = r"(?P<run_id>[0-9a-f]{32})"
JOBS_ROUTES: list[tuple[str, type]] = [
    (r"/jobs", JobsHandler),
    (r"/jobs/schedule-preview", SchedulePreviewHandler),
    (r"/jobs/notebook-parameters", NotebookParametersHandler),
    (r"/jobs/scheduler", SchedulerStatusHandler),
    (r"/jobs/(?P<ref>[^/]+)", JobHandler),
    (r"/jobs/(?P<ref>[^/]+)/(?P<action>run|pause|resume)", JobActionHandler),
    (r"/runs", RunsHandler),
    (rf"/runs/{_ID}", RunHandler),
    (rf"/runs/{_ID}/(?P<action>cancel|retry)", RunActionHandler),
    (rf"/runs/{_ID}/output", RunOutputHandler),
    (rf"/runs/{_ID}/log", RunLogHandler),
    (rf"/runs/{_ID}/artifacts/(?P<name>[A-Za-z0-9_.\-/=@+]+)", RunArtifactHandler),
    (r"/sweeps", SweepsHandler),
    (r"/sweeps/(?P<sweep_id>[0-9a-f]{32})", SweepHandler),
]


# -- the scheduler inside the server ------------------------------------------------------------
def start_jobs_scheduler(app, workspace) -> None:
    settings = workspace.config.settings
    if not settings.jobs_scheduler_in_server:
        app.log.info(
            "jupyter_mlinfra: jobs scheduler not started in the server "
            "(jobs_scheduler_in_server is off)"
        )
        # the server's quotas are the ones its users' submissions are held to (a serving
        # scheduler publishes its own when it starts)
        try:
            workspace.service("jobs").publish_quotas(by="jupyter server")
        except Exception as exc:
            app.log.warning("jupyter_mlinfra: cannot publish the jobs quotas: %s", exc)
        return
    from ..core.jobs.scheduler import Scheduler

    scheduler = Scheduler(workspace)
    scheduler.start()
    app.settings["mlinfra_jobs_scheduler"] = scheduler
    app.log.info(
        "jupyter_mlinfra: jobs scheduler %s started (%s executor)",
        scheduler.id,
        scheduler.executor.kind,
    )


async def stop_jobs_scheduler(app, workspace) -> None:
    scheduler = app.settings.pop("mlinfra_jobs_scheduler", None)
    if scheduler is not None:
        await asyncio.get_running_loop().run_in_executor(None, scheduler.stop)
        app.log.info("jupyter_mlinfra: jobs scheduler %s stopped", scheduler.id)
