"""``%mlinfra history | check | replay | verify``: provenance from a notebook cell."""

from __future__ import annotations

import json

from .. import grammar
from ..core.text_table import render_table
from .magics import operation


def _provenance():
    # Imported on first use: it pulls in nbformat's JSON-schema validation, which is slow to
    # import and would otherwise be paid by every `%load_ext jupyter_mlinfra` (and every job).
    from .. import provenance

    return provenance


def _short(names: list[str], limit: int = 40) -> str:
    text = ", ".join(names)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@operation("history", grammar.HISTORY, help="the executions recorded for this notebook (or PATH)")
def history(magics, args) -> None:
    rows = _provenance().history(args.path, session_id=args.session)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    table = [
        {
            "seq": r["seq"],
            "cell": r["cell_id"][:12],
            "count": r["execution_count"],
            "status": r["status"] if r["status"] == "ok" else f"error ({r['error_type']})",
            "ms": r["duration_ms"],
            "binds": _short(r["binds"]),
            "reads": _short(r["reads"]),
            "mutates": _short(r["mutates"]),
        }
        for r in rows
    ]
    print(
        render_table(table, ["seq", "cell", "count", "status", "ms", "binds", "reads", "mutates"])
    )


@operation("check", grammar.CHECK)
def check(magics, args) -> None:
    report = _provenance().check(args.path, session_id=args.session)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())


@operation(
    "replay",
    grammar.REPLAY,
    help="write the notebook that reproduces a cell's result: replay [PATH] OUT",
)
def replay(magics, args) -> None:
    summary = _provenance().replay(
        args.out,
        path=args.path or args.path_option,
        cell_id=args.cell,
        name=args.name,
        session_id=args.session,
    )
    seqs = ", ".join(f"#{e['seq']}" for e in summary["executions"])
    print(f"wrote {summary['path']}: {summary['cells']} cells (executions {seqs})")


@operation(
    "verify", grammar.VERIFY, help="re-run the saved notebook (or its replay) and compare outputs"
)
def verify(magics, args) -> None:
    path = args.path
    if path is None:
        log = _provenance().current_log()
        if log is None or log.notebook_path.startswith("kernel:"):
            from ..core.errors import InvalidInput

            raise InvalidInput("this kernel does not know its notebook's path; give PATH")
        path = log.notebook_path
    if args.timeout is not None and args.timeout < 0:
        from ..core.errors import InvalidInput

        raise InvalidInput(f"--timeout must be 0 (no limit) or more seconds, not {args.timeout}")
    result = _provenance().verify(
        path,
        replay=args.replay,
        cell_id=args.cell,
        lax=args.lax,
        timeout=args.timeout,
        kernel_name=args.kernel,
        rtol=args.rtol,
        atol=args.atol,
        compare_stderr=not args.ignore_stderr,
        sanitizers=grammar.sanitizers(args),
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.to_text())
