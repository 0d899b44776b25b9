"""``jupyter mlinfra history | check | replay | verify``: provenance from the command line.

``verify`` serves in CI the way nbval does: it exits 1 when any cell's outputs differ, a cell
fails, the kernel dies or does not exist, a cell times out or never runs, and 0 only when the
notebook re-runs to the outputs it stores.
"""

from __future__ import annotations

import json

from .. import grammar
from ..core.text_table import render_table


def register(subparsers) -> None:
    for verb, helptext in (
        (
            "enable",
            "make every IPython kernel record provenance from its first cell (no %load_ext needed)",
        ),
        ("disable", "undo enable-recording: kernels record only after %load_ext"),
    ):
        p = subparsers.add_parser(
            f"{verb}-recording",
            help=helptext.replace("%", "%%"),  # argparse %-formats help
            description=helptext[0].upper() + helptext[1:] + ". Writes (or removes) a marked "
            "block in ipython_kernel_config.py: of this environment (--sys-prefix, the "
            "default) or of your IPython profile (--user). Running kernels keep their state: "
            "restart them.",
        )
        where = p.add_mutually_exclusive_group()
        where.add_argument(
            "--user",
            dest="scope",
            action="store_const",
            const="user",
            help="your IPython profile (IPYTHONDIR): every environment",
        )
        where.add_argument(
            "--sys-prefix",
            dest="scope",
            action="store_const",
            const="sys-prefix",
            help="this environment only (the default)",
        )
        p.set_defaults(
            handler=enable_recording if verb == "enable" else disable_recording, scope="sys-prefix"
        )

    for operation, handler, description in (
        (grammar.HISTORY, history, None),
        (
            grammar.CHECK,
            check,
            "Analyse a notebook's execution history (from the catalog, or the log the "
            "notebook carries in its metadata). Exit code 0 either way; use --strict to exit "
            "1 when a hazard is found.",
        ),
        (grammar.REPLAY, replay, None),
        (
            grammar.VERIFY,
            verify,
            "Run the notebook top to bottom (or, with --replay, its replay order) in a fresh "
            "kernel and compare each cell's outputs with the stored ones. Exit code 1 on any "
            "mismatch, error, timeout, dead or missing kernel, or cell not run. Honours "
            "nbclient's skip-execution tag and nbval's markers (# NBVAL_SKIP, "
            "# NBVAL_IGNORE_OUTPUT, # NBVAL_RAISES_EXCEPTION, # NBVAL_CHECK_OUTPUT and their "
            "nbval-* tags).",
        ),
    ):
        p = subparsers.add_parser(operation.name, help=operation.help, description=description)
        operation.add_arguments(p, grammar.CLI)
        p.set_defaults(handler=handler)


def history(workspace, args) -> int:
    log = workspace.service("provenance").history(args.path, session_id=args.session)
    rows = [e.to_dict() for e in log.executions]
    if args.json:
        print(
            json.dumps(
                {
                    "notebook_path": log.notebook_path,
                    "session_id": log.session_id,
                    "executions": rows,
                },
                indent=2,
            )
        )
        return 0
    print(f"{log.notebook_path}  session {log.session_id}  {len(rows)} executions")
    print(
        render_table(
            [
                {
                    "seq": r["seq"],
                    "cell": r["cell_id"][:12],
                    "count": r["execution_count"],
                    "status": r["status"],
                    "ms": r["duration_ms"],
                    "binds": ", ".join(r["binds"]),
                    "reads": ", ".join(r["reads"]),
                }
                for r in rows
            ],
            ["seq", "cell", "count", "status", "ms", "binds", "reads"],
            max_width=40,
        )
    )
    return 0


def check(workspace, args) -> int:
    report = workspace.service("provenance").check(args.path, session_id=args.session)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 1 if args.strict and not report.clean else 0


def replay(workspace, args) -> int:
    summary = workspace.service("provenance").export_replay(
        args.out, args.path, cell_id=args.cell, name=args.name, session_id=args.session
    )
    print(
        f"wrote {summary['path']}: {summary['cells']} cells (executions "
        + ", ".join(f"#{e['seq']}" for e in summary["executions"])
        + ")"
    )
    return 0


def verify(workspace, args) -> int:
    from ..core.errors import InvalidInput
    from ..core.provenance.verify import VerifyOptions

    sanitizers = grammar.sanitizers(args)
    if args.timeout is not None and args.timeout < 0:
        raise InvalidInput(f"--timeout must be 0 (no limit) or more seconds, not {args.timeout}")
    opts = VerifyOptions(
        rtol=args.rtol,
        atol=args.atol,
        compare_stderr=not args.ignore_stderr,
        sanitizers=sanitizers,
        lax=args.lax,
    )
    result = workspace.service("provenance").verify(
        args.path,
        replay=args.replay,
        options=opts,
        timeout=args.timeout,
        kernel_name=args.kernel,
        cell_id=args.cell,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.to_text())
    return 0 if result.ok else 1


def enable_recording(workspace, args) -> int:
    from ..kernel import autoload

    result = autoload.enable(args.scope)
    if result["changed"]:
        print(
            f"enabled: new IPython kernels record provenance from their first cell "
            f"(wrote {result['path']}); restart running kernels to record them"
        )
    else:
        print(f"already enabled ({result['path']})")
    return 0


def disable_recording(workspace, args) -> int:
    from ..kernel import autoload

    result = autoload.disable(args.scope)
    print(
        f"disabled: removed from {result['path']}"
        if result["changed"]
        else f"not enabled in {result['path']}"
    )
    other = [s for s in autoload.SCOPES if s != args.scope and autoload.is_enabled(s)]
    if other:
        print(f"still enabled with --{other[0]} ({autoload.config_path(other[0])})")
    return 0
