"""``%mlinfra run|job|runs|sweep|cancel|retry|log``: notebook jobs from a notebook cell.

The words are the CLI's (``jupyter_mlinfra.grammar``): ``%mlinfra job create NAME NB
--schedule CRON`` is ``jupyter mlinfra job create NAME NB --schedule CRON``. The old
spellings ``%mlinfra schedule ... --cron`` and ``%mlinfra jobs`` still work."""

from __future__ import annotations

import argparse
import os

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser, argument

from .. import grammar
from ..core.workspace import get_workspace
from .magics import SUBCOMMANDS, Summary, operation, subcommand


def _svc():
    return get_workspace().service("jobs")


def _unquote(value: str | None) -> str | None:
    """A cron expression quoted twice ("'0 6 * * *'") loses its inner quotes."""
    if value and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


class RunProgress:
    """An ipywidgets display of a run while waiting: state, cell progress bar, metrics."""

    def __init__(self, run: dict) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.bar = w.IntProgress(
            value=0, min=0, max=1, description="cells", layout=w.Layout(width="320px")
        )
        self.label = w.HTML(self._label(run))
        self.box = w.VBox([self.label, self.bar])
        display(self.box)

    @staticmethod
    def _label(run: dict) -> str:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in (run.get("metrics") or {}).items())
        return (
            f"<b>run {run['id'][:12]}</b> {run['notebook']} &mdash; "
            f"<code>{run['state']}</code>" + (f" &mdash; {metrics}" if metrics else "")
        )

    def update(self, run: dict) -> None:
        progress = run.get("progress") or {}
        if progress.get("code_cells"):
            self.bar.max = progress["code_cells"]
            self.bar.value = progress.get("executed", 0)
        style = {
            "succeeded": "success",
            "failed": "danger",
            "timed_out": "danger",
            "cancelled": "warning",
            "upstream_failed": "danger",
        }.get(run["state"], "info")
        self.bar.bar_style = style
        self.label.value = self._label(run)


def _summary(run: dict) -> str:
    """One line: id, state, notebook, duration, metrics (and the error, if any)."""
    line = f"run {run['id'][:12]}  {run['state']}  {run['notebook']}"
    duration = run.get("duration_seconds", run.get("duration"))
    if duration is not None and run["state"] not in ("queued", "waiting"):
        line += f"  {duration:.1f} s"
    if run.get("metrics"):
        line += "  " + ", ".join(f"{k}={v:.4g}" for k, v in run["metrics"].items())
    if run.get("error"):
        e = run["error"]
        where = f" in cell {e['cell_index']}" if "cell_index" in e else ""
        line += f"  {e.get('type')}{where}: {str(e.get('message')).splitlines()[0][:120]}"
    return line


def _job_line(job: dict) -> str:
    when = f"  {job['schedule']} ({job['timezone']})" if job.get("schedule") else ""
    after = f"  after {', '.join(job['depends_on'])}" if job.get("depends_on") else ""
    state = "active" if job.get("active", True) else "paused"
    return f"job {job['name']} -> {job['notebook']}{when}{after}  {state}"


@operation(
    "run", grammar.RUN, help="run a notebook as a job run: %mlinfra run NB -p name value [--wait]"
)
def run(magics, args):
    from ..core.jobs.local import wait_with_local_scheduler

    svc = _svc()
    result = svc.submit(
        args.notebook,
        job=args.job,
        parameters=grammar.parameters(args),
        base=os.getcwd(),
        **grammar.run_options(args),
    )
    if result.get("captured"):  # a reproduce re-run: nothing was submitted
        print(f"captured: {result['summary']} (reproduce run: not applied)")
        return result
    if not args.wait:
        return Summary(result, f"run {result['id']} queued ({result['notebook']})")
    display = RunProgress(result)
    final = wait_with_local_scheduler(get_workspace(), [result["id"]], on_update=display.update)[0]
    display.update(final)
    return Summary(final, _summary(final))


def _create_job(args) -> Summary:
    spec = grammar.job_spec(args)
    for key in ("schedule", "timezone"):
        if key in spec:
            spec[key] = _unquote(spec[key])
    job = _svc().create_job(args.name, args.notebook, base=os.getcwd(), **spec)
    if job["schedule"]:
        print(f"schedule {job['schedule']} ({job['timezone']}); next fire times:")
        for t in job["next_fire_times"]:
            print(f"  {t}")
    return Summary(job, _job_line(job))


def _frame(rows: list[dict], columns: list[str]):
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _list_jobs(args):
    rows = [
        {
            "name": j["name"],
            "notebook": j["notebook"],
            "schedule": j["schedule"],
            "timezone": j["timezone"],
            "next": (j["next_fire_times"] or [None])[0],
            "depends_on": ", ".join(j["depends_on"]),
            "active": j["active"],
        }
        for j in _svc().list_jobs(tag=args.tag)
    ]
    return _frame(
        rows, ["name", "notebook", "schedule", "timezone", "next", "depends_on", "active"]
    )


def _job_action(action: str):
    def act(args):
        svc = _svc()
        if action == "delete":
            svc.delete_job(args.name)
            print(f"deleted job {args.name}")
            return None
        job = {"show": svc.get_job, "pause": svc.pause_job, "resume": svc.resume_job}[action](
            args.name
        )
        return Summary(job, _job_line(job))

    return act


def _job_parser(op: grammar.Operation) -> MagicArgumentParser:
    parser = MagicArgumentParser(prog=f"%mlinfra {op.name}", description=op.help, add_help=False)
    op.add_arguments(parser, grammar.MAGIC)
    return parser


JOB_ACTIONS = {
    "create": (grammar.JOB_CREATE, _create_job),
    "list": (grammar.JOB_LIST, _list_jobs),
    **{a: (o, _job_action(a)) for a, o in grammar.JOB_ACTIONS.items()},
}


@subcommand("job", help="define and manage jobs: create, list, show, pause, resume, delete")
@argument("action", help=" | ".join(JOB_ACTIONS))
@argument("rest", nargs=argparse.REMAINDER)
def job(magics, args):
    if args.action not in JOB_ACTIONS:
        raise UsageError(
            f"%mlinfra job: unknown action {args.action!r}; choose from {', '.join(JOB_ACTIONS)}"
        )
    op, act = JOB_ACTIONS[args.action]
    return act(_job_parser(op).parse_args(list(args.rest)))


job.parser.epilog = "actions:\n" + "\n".join(
    "  " + _job_parser(op).format_usage().strip().removeprefix("usage: ")
    for op, _ in JOB_ACTIONS.values()
)
job.parser.formatter_class = argparse.RawDescriptionHelpFormatter


# the old spellings: %mlinfra schedule NAME NB --cron ... and %mlinfra jobs
@operation("schedule", grammar.JOB_CREATE, help="= job create (old spelling)")
def schedule(magics, args):
    return _create_job(args)


@operation("jobs", grammar.JOB_LIST, help="= job list (old spelling)")
def jobs(magics, args):
    return _list_jobs(args)


@operation("runs", grammar.RUNS)
def runs(magics, args):
    svc = _svc()
    if args.run_id:
        found = svc.get_run(_full_id(svc, args.run_id))
        return Summary(found, _summary(found))
    page = svc.list_runs(
        job=args.job,
        state=args.state,
        trigger=args.trigger,
        tag=args.tag,
        sweep=args.sweep,
        q=args.q,
        parameters=grammar.parameters(args) or None,
        since=args.since,
        until=args.until,
        limit=args.limit,
        offset=args.offset,
        cursor=args.cursor,
    )
    rows = [
        {
            "id": r["id"],
            "job": r["job_name"],
            "notebook": r["notebook"],
            "state": r["state"],
            "trigger": r["trigger"],
            "attempt": r["attempt"],
            "created_at": r["created_at"],
            "duration": r.get("duration_seconds", r.get("duration")),
            **r["metrics"],
        }
        for r in page["items"]
    ]
    columns = ["id", "job", "notebook", "state", "trigger", "attempt", "created_at", "duration"]
    for r in rows:
        columns += [k for k in r if k not in columns]
    if page.get("next_cursor"):
        print(f"{len(rows)} of {page['total']} run(s); next page: --cursor {page['next_cursor']}")
    return _frame(rows, columns)


def _full_id(svc, prefix: str) -> str:
    if len(prefix) == 32:
        return prefix
    matches = [r["id"] for r in svc.list_runs(limit=1000)["items"] if r["id"].startswith(prefix)]
    return matches[0] if len(matches) == 1 else prefix


@operation(
    "sweep",
    grammar.SWEEP,
    help="run a notebook over a grid: %mlinfra sweep NB -g lr 0.1,0.2 --wait",
)
def sweep(magics, args):
    from ..core.jobs.local import wait_with_local_scheduler
    from ..core.jobs.validation import parse_cli_value

    grid = {n: [parse_cli_value(v) for v in values.split(",")] for n, values in args.grid}
    svc = _svc()
    result = svc.sweep(
        args.notebook,
        grid,
        job=args.job,
        parameters=grammar.parameters(args),
        base=os.getcwd(),
        **grammar.run_options(args),
    )
    if result.get("captured"):  # a reproduce re-run: nothing was submitted
        print(f"captured: {result['summary']} (reproduce run: not applied)")
        return result
    print(f"sweep {result['id']}: {len(result['run_ids'])} run(s)")
    if args.wait:
        wait_with_local_scheduler(get_workspace(), result["run_ids"])
    return svc.sweep_results(result["id"])


@operation("cancel", grammar.CANCEL)
def cancel(magics, args):
    svc = _svc()
    found = svc.cancel_run(_full_id(svc, args.run_id))
    print(
        f"run {found['id']}: {found['state']}"
        + (" (cancellation requested)" if found["state"] == "running" else "")
    )
    return None


@operation("retry", grammar.RETRY)
def retry(magics, args):
    svc = _svc()
    found = svc.retry_run(_full_id(svc, args.run_id))
    return Summary(found, _summary(found))


@operation("log", grammar.LOG)
def log(magics, args):
    import time

    svc = _svc()
    run_id, offset = _full_id(svc, args.run_id), 0
    while True:
        chunk = svc.run_log(run_id, offset)
        for line in chunk["lines"]:
            print(line["text"])
        offset = chunk["next_offset"]
        if not args.follow or (
            chunk["state"] in ("succeeded", "failed", "cancelled", "timed_out", "upstream_failed")
            and not chunk["lines"]
        ):
            return None
        time.sleep(0.5)


assert {"run", "job", "runs", "sweep", "cancel", "retry", "log"} <= set(SUBCOMMANDS)
