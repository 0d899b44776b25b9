"""``%mlinfra run|schedule|jobs|runs|sweep|cancel``: notebook jobs from a notebook cell."""

from __future__ import annotations

import os

from IPython.core.magic_arguments import argument

from ..core.workspace import get_workspace
from .magics import subcommand


def _svc():
    return get_workspace().service("jobs")


def _params(pairs) -> dict:
    from ..core.jobs.validation import parse_cli_value

    return {name: parse_cli_value(value) for name, value in (pairs or [])}


def _unquote(value: str | None) -> str | None:
    """IPython's argument parser keeps the quotes of '0 6 * * *'; drop a matching pair."""
    if value and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _options(args) -> dict:
    out = {}
    for key in ("priority", "timeout", "retries", "visibility"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    if getattr(args, "tag", None):
        out["tags"] = args.tag
    return out


class RunProgress:
    """An ipywidgets display of a run while waiting: state, cell progress bar, metrics."""

    def __init__(self, run: dict) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.bar = w.IntProgress(value=0, min=0, max=1, description="cells",
                                 layout=w.Layout(width="320px"))
        self.label = w.HTML(self._label(run))
        self.box = w.VBox([self.label, self.bar])
        display(self.box)

    @staticmethod
    def _label(run: dict) -> str:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in (run.get("metrics") or {}).items())
        return (f"<b>run {run['id'][:12]}</b> {run['notebook']} &mdash; "
                f"<code>{run['state']}</code>" + (f" &mdash; {metrics}" if metrics else ""))

    def update(self, run: dict) -> None:
        progress = run.get("progress") or {}
        if progress.get("code_cells"):
            self.bar.max = progress["code_cells"]
            self.bar.value = progress.get("executed", 0)
        style = {"succeeded": "success", "failed": "danger", "timed_out": "danger",
                 "cancelled": "warning", "upstream_failed": "danger"}.get(run["state"], "info")
        self.bar.bar_style = style
        self.label.value = self._label(run)


def _summary(run: dict) -> str:
    line = f"run {run['id']}  {run['state']}  {run['notebook']}"
    if run.get("metrics"):
        line += "  " + ", ".join(f"{k}={v:.4g}" for k, v in run["metrics"].items())
    if run.get("error"):
        e = run["error"]
        line += f"\n  {e.get('type')}: {e.get('message')}"
        if "cell_index" in e:
            line += f" (cell {e['cell_index']})"
    return line


@subcommand("run", help="run a notebook as a job run: %mlinfra run NB -p name value [--wait]")
@argument("notebook", nargs="?", help="notebook path")
@argument("--job", help="run this job (with its downstream jobs) instead")
@argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
@argument("--priority", type=int)
@argument("--timeout", type=float, help="seconds")
@argument("--retries", type=int)
@argument("--tag", action="append")
@argument("--visibility", choices=["private", "team", "public"],
          help="who may read the run, its output and log (default team)")
@argument("--wait", action="store_true", help="wait, showing cell progress")
def run(magics, args):
    from ..core.jobs.local import wait_with_local_scheduler

    svc = _svc()
    params = _params(args.parameter)
    result = svc.submit(args.notebook, job=args.job, parameters=params, base=os.getcwd(),
                        **_options(args))
    if result.get("captured"):  # a reproduce re-run: nothing was submitted
        print(f"captured: {result['summary']} (reproduce run: not applied)")
        return result
    if not args.wait:
        print(f"run {result['id']} queued ({result['notebook']})")
        return result
    display = RunProgress(result)
    final = wait_with_local_scheduler(get_workspace(), [result["id"]],
                                      on_update=display.update)[0]
    display.update(final)
    print(_summary(final))
    return final


@subcommand("schedule", help="define a job: %mlinfra schedule NAME NB --cron '0 6 * * *'")
@argument("name")
@argument("notebook")
@argument("--cron", help="cron expression")
@argument("--timezone", default="UTC")
@argument("--depends-on", action="append")
@argument("--visibility", choices=["private", "team", "public"],
          help="who may make their jobs depend on it (default team)")
@argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
@argument("--priority", type=int)
@argument("--timeout", type=float)
@argument("--retries", type=int)
@argument("--tag", action="append")
def schedule(magics, args):
    job = _svc().create_job(args.name, args.notebook, base=os.getcwd(),
                            parameters=_params(args.parameter),
                            schedule=_unquote(args.cron), timezone=_unquote(args.timezone),
                            depends_on=args.depends_on, **_options(args))
    print(f"job {job['name']} -> {job['notebook']}")
    if job["schedule"]:
        print(f"schedule {job['schedule']} ({job['timezone']}); next fire times:")
        for t in job["next_fire_times"]:
            print(f"  {t}")
    if job["depends_on"]:
        print("depends on: " + ", ".join(job["depends_on"]))
    return job


def _frame(rows: list[dict], columns: list[str]):
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


@subcommand("jobs", help="list jobs")
@argument("--tag")
def jobs(magics, args):
    rows = [{"name": j["name"], "notebook": j["notebook"], "schedule": j["schedule"],
             "timezone": j["timezone"], "next": (j["next_fire_times"] or [None])[0],
             "depends_on": ", ".join(j["depends_on"]), "active": j["active"]}
            for j in _svc().list_jobs(tag=args.tag)]
    return _frame(rows, ["name", "notebook", "schedule", "timezone", "next", "depends_on",
                         "active"])


@subcommand("runs", help="list and search runs")
@argument("--job")
@argument("--state")
@argument("--tag")
@argument("-q", "--search", dest="q")
@argument("--limit", type=int, default=20)
def runs(magics, args):
    page = _svc().list_runs(job=args.job, state=args.state, tag=args.tag, q=args.q,
                            limit=args.limit)
    rows = [{"id": r["id"], "job": r["job_name"], "notebook": r["notebook"],
             "state": r["state"], "trigger": r["trigger"], "attempt": r["attempt"],
             "created_at": r["created_at"], "duration": r["duration"], **r["metrics"]}
            for r in page["items"]]
    columns = ["id", "job", "notebook", "state", "trigger", "attempt", "created_at",
               "duration"]
    for r in rows:
        columns += [k for k in r if k not in columns]
    return _frame(rows, columns)


@subcommand("sweep", help="run a notebook over a grid: %mlinfra sweep NB -g lr 0.1,0.2 --wait")
@argument("notebook")
@argument("-g", "--grid", nargs=2, action="append", metavar=("NAME", "V1,V2"), required=True)
@argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
@argument("--wait", action="store_true")
def sweep(magics, args):
    from ..core.jobs.local import wait_with_local_scheduler
    from ..core.jobs.validation import parse_cli_value

    grid = {n: [parse_cli_value(v) for v in values.split(",")] for n, values in args.grid}
    svc = _svc()
    result = svc.sweep(args.notebook, grid, parameters=_params(args.parameter),
                       base=os.getcwd())
    if result.get("captured"):  # a reproduce re-run: nothing was submitted
        print(f"captured: {result['summary']} (reproduce run: not applied)")
        return result
    print(f"sweep {result['id']}: {len(result['run_ids'])} run(s)")
    if args.wait:
        wait_with_local_scheduler(get_workspace(), result["run_ids"])
    return svc.sweep_results(result["id"])


@subcommand("cancel", help="cancel a run (kills its kernel)")
@argument("run_id")
def cancel(magics, args):
    run = _svc().cancel_run(args.run_id)
    print(f"run {run['id']}: {run['state']}" + (" (cancellation requested)"
                                                 if run["state"] == "running" else ""))
    return None
