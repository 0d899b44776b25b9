"""``jupyter mlinfra run|job|runs|sweep|cancel|retry|log|scheduler|test``: notebook jobs."""

from __future__ import annotations

import json
import os
import sys
import time

from .. import grammar
from ..core.text_table import render_table


def _parser(subparsers, operation: grammar.Operation):
    parser = subparsers.add_parser(operation.words[-1], help=operation.help)
    operation.add_arguments(parser, grammar.CLI)
    return parser


def register(subparsers) -> None:
    _parser(subparsers, grammar.RUN).set_defaults(handler=cmd_run)

    job = subparsers.add_parser("job", help="define and manage jobs")
    jsub = job.add_subparsers(dest="job_command", metavar="ACTION")
    _parser(jsub, grammar.JOB_CREATE).set_defaults(handler=cmd_job_create)
    _parser(jsub, grammar.JOB_LIST).set_defaults(handler=cmd_job_list)
    for action, operation in grammar.JOB_ACTIONS.items():
        _parser(jsub, operation).set_defaults(handler=cmd_job_action, action=action)
    job.set_defaults(handler=lambda ws, args: (job.print_help(), 2)[1])

    _parser(subparsers, grammar.RUNS).set_defaults(handler=cmd_runs)
    _parser(subparsers, grammar.SWEEP).set_defaults(handler=cmd_sweep)
    _parser(subparsers, grammar.CANCEL).set_defaults(handler=cmd_cancel)
    _parser(subparsers, grammar.RETRY).set_defaults(handler=cmd_retry)
    _parser(subparsers, grammar.LOG).set_defaults(handler=cmd_log)

    sc = subparsers.add_parser("scheduler", help="run the jobs scheduler (a daemon)")
    sc.add_argument(
        "--executor",
        help="local, dask, or a kind an installed package adds "
        "(entry point group jupyter_mlinfra.executors); default: jobs_executor",
    )
    sc.add_argument("--workers", type=int, help="local worker processes")
    sc.add_argument("--dask-address", help="Dask scheduler address")
    sc.add_argument("--poll-interval", type=float)
    sc.add_argument("--lease-seconds", type=float)
    sc.add_argument(
        "--status",
        action="store_true",
        help="list the schedulers serving the catalog (alive ones), then exit",
    )
    sc.add_argument("--all", action="store_true", help="with --status: stopped ones too")
    sc.add_argument("--json", action="store_true", help="with --status: as JSON")
    sc.set_defaults(handler=cmd_scheduler)

    t = subparsers.add_parser("test", help="run notebooks as tests (exit 1 on any failure)")
    t.add_argument("paths", nargs="+", help="notebooks or folders")
    t.add_argument("--timeout", type=float, help="seconds per cell")
    t.add_argument("--kernel", dest="kernel_name")
    t.set_defaults(handler=cmd_test)


def _svc(workspace):
    return workspace.service("jobs")


def _print_run(run: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(run, indent=2, default=str))
        return
    print(
        f"run {run['id']}  {run['state']}  {run['notebook']}  attempt {run['attempt']}  "
        f"trigger {run['trigger']}"
    )
    if run.get("parameters"):
        print(f"  parameters: {json.dumps(run['parameters'])}")
    if run.get("metrics"):
        print("  metrics: " + ", ".join(f"{k}={v:g}" for k, v in run["metrics"].items()))
    if run.get("duration") is not None and run["state"] not in ("queued", "waiting"):
        print(f"  duration: {run['duration']:.2f} s  worker: {run.get('worker')}")
    if run.get("error"):
        e = run["error"]
        where = (
            f" (cell {e['cell_index']}" + (f", id {e['cell_id']}" if e.get("cell_id") else "") + ")"
            if "cell_index" in e
            else ""
        )
        print(f"  error: {e.get('type')}: {e.get('message')}{where}")


def cmd_run(workspace, args) -> int:
    from ..core.jobs.local import wait_with_local_scheduler

    svc = _svc(workspace)
    run = svc.submit(
        args.notebook,
        job=args.job,
        parameters=grammar.parameters(args),
        base=os.getcwd(),
        **grammar.run_options(args),
    )
    if not args.wait:
        _print_run(run, args.json)
        return 0
    if not args.json:
        print(f"run {run['id']} queued; waiting...", file=sys.stderr)

    def show(r: dict) -> None:
        if args.json:
            return
        p = r.get("progress") or {}
        if r["state"] == "running" and p.get("code_cells"):
            print(f"  {r['state']}: cell {p.get('executed', 0)}/{p['code_cells']}", file=sys.stderr)

    ids = run.get("pipeline_run_ids") or [run["id"]]
    try:
        runs = wait_with_local_scheduler(workspace, ids, on_update=show)
    finally:
        # a run executed here forked its kernel from a template: wait for it to exit
        if "jupyter_mlinfra.core.jobs.forked_kernel" in sys.modules:
            from ..core.jobs.forked_kernel import close_templates

            close_templates()
    for r in runs:
        _print_run(r, args.json)
    return 0 if all(r["state"] == "succeeded" for r in runs) else 1


def _print_job(job: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(job, indent=2, default=str))
        return
    print(f"job {job['name']}  ({'active' if job['active'] else 'paused'})  {job['notebook']}")
    if job["parameters"]:
        print(f"  parameters: {json.dumps(job['parameters'])}")
    if job["schedule"]:
        print(f"  schedule: {job['schedule']} ({job['timezone']}), catch-up {job['catchup']}")
        for t in job["next_fire_times"]:
            print(f"    next: {t}")
    if job["depends_on"]:
        print(f"  depends on: {', '.join(job['depends_on'])}")
    print(f"  visibility {job['visibility']}" + (f" (team {job['team']})" if job["team"] else ""))
    print(
        f"  priority {job['priority']}, cpus {job['resources']['cpus']:g}, memory "
        f"{job['resources']['memory_mb']} MB, retries {job['retries']}, timeout "
        f"{job['timeout'] or 'none'}, tags {', '.join(job['tags']) or '-'}"
    )


def cmd_job_create(workspace, args) -> int:
    job = _svc(workspace).create_job(
        args.name, args.notebook, base=os.getcwd(), **grammar.job_spec(args)
    )
    _print_job(job, args.json)
    return 0


def cmd_job_list(workspace, args) -> int:
    jobs = _svc(workspace).list_jobs(tag=args.tag)
    if args.json:
        print(json.dumps(jobs, indent=2, default=str))
        return 0
    rows = [
        {
            "name": j["name"],
            "notebook": j["notebook"],
            "schedule": f"{j['schedule']} {j['timezone']}" if j["schedule"] else "",
            "next": (j["next_fire_times"] or [""])[0][:19],
            "depends_on": ",".join(j["depends_on"]),
            "state": "active" if j["active"] else "paused",
        }
        for j in jobs
    ]
    print(
        render_table(rows, ["name", "notebook", "schedule", "next", "depends_on", "state"])
        if rows
        else "no jobs"
    )
    return 0


def cmd_job_action(workspace, args) -> int:
    svc = _svc(workspace)
    if args.action == "delete":
        svc.delete_job(args.name)
        print(f"deleted job {args.name}")
        return 0
    job = {"show": svc.get_job, "pause": svc.pause_job, "resume": svc.resume_job}[args.action](
        args.name
    )
    _print_job(job, args.json)
    return 0


def _run_rows(runs: list[dict]) -> list[dict]:
    return [
        {
            "id": r["id"][:12],
            "job": r.get("job_name") or "",
            "notebook": r["notebook"],
            "state": r["state"],
            "trigger": r["trigger"],
            "attempt": r["attempt"],
            "created": (r["created_at"] or "")[:19],
            "duration": f"{r['duration']:.1f}" if r.get("duration") is not None else "",
            "metrics": ", ".join(f"{k}={v:.4g}" for k, v in (r.get("metrics") or {}).items()),
        }
        for r in runs
    ]


def cmd_runs(workspace, args) -> int:
    svc = _svc(workspace)
    if args.run_id:
        run = svc.get_run(_full_id(svc, args.run_id))
        _print_run(run, args.json)
        return 0
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
    if args.json:
        print(json.dumps(page, indent=2, default=str))
        return 0
    if not page["items"]:
        print("no runs")
        return 0
    print(
        render_table(
            _run_rows(page["items"]),
            [
                "id",
                "job",
                "notebook",
                "state",
                "trigger",
                "attempt",
                "created",
                "duration",
                "metrics",
            ],
        )
    )
    more = "" if page["total_exact"] else "+"
    print(f"{len(page['items'])} of {page['total']}{more} run(s)")
    if page["next_cursor"]:
        print(f"next page: --cursor {page['next_cursor']}")
    return 0


def _full_id(svc, prefix: str) -> str:
    if len(prefix) == 32:
        return prefix
    page = svc.list_runs(q=None, limit=1000)
    matches = [r["id"] for r in page["items"] if r["id"].startswith(prefix)]
    if len(matches) == 1:
        return matches[0]
    return prefix


def cmd_sweep(workspace, args) -> int:
    from ..core.jobs.local import wait_with_local_scheduler
    from ..core.jobs.validation import parse_cli_value

    grid = {name: [parse_cli_value(v) for v in values.split(",")] for name, values in args.grid}
    svc = _svc(workspace)
    sweep = svc.sweep(
        args.notebook,
        grid,
        job=args.job,
        base=os.getcwd(),
        parameters=grammar.parameters(args),
        **grammar.run_options(args),
    )
    if args.wait:
        wait_with_local_scheduler(workspace, sweep["run_ids"])
    # the rows, not a DataFrame: the CLI does not import pandas (~0.4 s of CPU) for a table
    columns, rows = svc.sweep_rows(sweep["id"])
    if args.json:
        print(json.dumps({"id": sweep["id"], "results": rows}, indent=2, default=str))
    else:
        print(f"sweep {sweep['id']}: {len(sweep['run_ids'])} run(s)")
        print(
            render_table(
                [{c: _cell(row.get(c)) for c in columns} for row in rows],
                columns,
                headers=columns,
                max_width=None,
            )
        )
    if args.wait:
        return 0 if all(row["state"] == "succeeded" for row in rows) else 1
    return 0


def _cell(value):
    """A sweep table's cell: floats with 6 significant digits, NaN and None empty."""
    if isinstance(value, float):
        return "" if value != value else f"{value:.6g}"
    return value


def cmd_cancel(workspace, args) -> int:
    svc = _svc(workspace)
    _print_run(svc.cancel_run(_full_id(svc, args.run_id)), args.json)
    return 0


def cmd_retry(workspace, args) -> int:
    svc = _svc(workspace)
    _print_run(svc.retry_run(_full_id(svc, args.run_id)), args.json)
    return 0


def cmd_log(workspace, args) -> int:
    svc = _svc(workspace)
    run_id = _full_id(svc, args.run_id)
    offset = 0
    while True:
        chunk = svc.run_log(run_id, offset)
        for line in chunk["lines"]:
            print(line["text"])
        offset = chunk["next_offset"]
        if not args.follow or chunk["state"] in (
            "succeeded",
            "failed",
            "cancelled",
            "timed_out",
            "upstream_failed",
        ):
            if args.follow and chunk["lines"]:
                continue
            return 0
        time.sleep(0.5)


def cmd_scheduler(workspace, args) -> int:
    import signal
    import threading

    from ..core.jobs.executors import build_executor
    from ..core.jobs.scheduler import Scheduler

    if args.status:
        return _scheduler_status(workspace, args)
    settings = workspace.config.settings
    lease = args.lease_seconds or settings.jobs_lease_seconds
    kwargs = {}
    if args.workers:
        kwargs["workers"] = args.workers
    if args.dask_address:
        kwargs["address"] = args.dask_address
    import uuid

    # the executor's worker slots carry the scheduler's suffix, as in the server
    name = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    executor = build_executor(
        workspace,
        args.executor,
        lease_seconds=lease,
        scheduler_id=name.rsplit("-", 1)[-1],
        **kwargs,
    )
    scheduler = Scheduler(
        workspace, executor, poll_interval=args.poll_interval, lease_seconds=lease, name=name
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(
        f"jupyter mlinfra scheduler {scheduler.id}: {executor.describe()}, catalog "
        f"{workspace.catalog.describe()['url']}",
        flush=True,
    )
    scheduler.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        scheduler.stop()
        print(f"scheduler {scheduler.id} stopped: {scheduler.stats}", flush=True)
    return 0


def _scheduler_status(workspace, args) -> int:
    rows = workspace.service("jobs").schedulers(include_gone=args.all)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(
            "no scheduler serves this catalog: runs wait until one starts (the Jupyter "
            "server's, or `jupyter mlinfra scheduler`); `run --wait` executes its own"
        )
    else:
        print(
            render_table(
                [
                    {
                        "id": r["id"],
                        "host": r["host"],
                        "pid": r["pid"],
                        "executor": r["executor"],
                        "role": "serving" if r["serving"] else "run --wait",
                        "alive": "yes" if r["alive"] else "no",
                        "heartbeat": r["heartbeat_at"][:19],
                    }
                    for r in rows
                ],
                ["id", "host", "pid", "executor", "role", "alive", "heartbeat"],
                max_width=None,
            )
        )
    return 0


def cmd_test(workspace, args) -> int:
    """Each notebook top to bottom in a fresh kernel in its own folder, like nbmake."""
    from ..core.notebook_tests import run_notebook_tests

    started = time.perf_counter()
    passed = failed = 0
    for result in run_notebook_tests(
        args.paths, kernel_name=args.kernel_name, timeout=args.timeout
    ):
        print(result.line(), flush=True)
        passed, failed = passed + result.passed, failed + (not result.passed)
    print(f"{passed} passed, {failed} failed in {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0
