"""``jupyter mlinfra notebooks``: executed notebooks (the output notebooks finished runs
kept), searched by text in their cells and outputs, notebook, job, tag and parameters; one of
them written out as .ipynb or HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..core import executed_notebooks
from ..core.text_table import render_table


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "notebooks",
        help="executed notebooks (job, sweep and reproduce runs' output "
        "notebooks): search them, or write one out as .ipynb or HTML",
    )
    p.add_argument(
        "id",
        nargs="?",
        help="an executed notebook's id (its run id): write it "
        "out (--format, -o) instead of listing",
    )
    p.add_argument("--q", help="text in the cells and outputs (or the notebook path, a run id)")
    p.add_argument("--notebook", help="text in the notebook path")
    p.add_argument("--job", help="a job name or id")
    p.add_argument("--tag", help="a run tag (mlinfra-reproduce: reproduce runs)")
    p.add_argument(
        "-p",
        "--parameter",
        action="append",
        metavar="NAME=VALUE",
        help="runs whose parameter has this value (repeatable)",
    )
    p.add_argument("--owner", help="runs of this user")
    p.add_argument("--limit", type=int, default=50, help="notebooks per page (default 50)")
    p.add_argument("--cursor", help="the next_cursor a previous --json page gave")
    p.add_argument("--json", action="store_true", help="the page (or the metadata) as JSON")
    p.add_argument(
        "--format",
        choices=executed_notebooks.FORMATS,
        help="with an id: write the notebook as ipynb or html (rendered by nbconvert)",
    )
    p.add_argument(
        "-o",
        "--output",
        help="with --format: the file to write (default: "
        "<notebook>-<run id>.<format> here; - for stdout)",
    )
    p.set_defaults(handler=show)


def show(workspace, args) -> int:
    if args.id:
        return _one(workspace, args)
    page = executed_notebooks.list_notebooks(
        workspace,
        q=args.q,
        notebook=args.notebook,
        job=args.job,
        tag=args.tag,
        parameter=args.parameter,
        owner=args.owner,
        limit=args.limit,
        cursor=args.cursor,
    )
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    if not page["items"]:
        print("no executed notebooks")
        return 0
    rows = [
        {
            "id": i["id"],
            "notebook": i["notebook"],
            "job": i["job_name"] or "",
            "state": i["state"],
            "finished": i["finished_at"],
            "parameters": ", ".join(f"{k}={v}" for k, v in i["parameters"].items()),
        }
        for i in page["items"]
    ]
    print(render_table(rows, ["id", "notebook", "job", "state", "finished", "parameters"]))
    if page["next_cursor"]:
        print(
            f"\n{len(rows)} of {page['total']} notebooks; next page: --cursor {page['next_cursor']}"
        )
    return 0


def _one(workspace, args) -> int:
    if not args.format:
        meta = executed_notebooks.get_notebook(workspace, args.id)
        if args.json:
            print(json.dumps(meta, indent=2))
        else:
            for key in (
                "id",
                "notebook",
                "kind",
                "job_name",
                "state",
                "parameters",
                "finished_at",
                "duration_seconds",
                "cells",
                "error",
            ):
                print(f"{key + ':':<18}{meta.get(key)}")
        return 0
    document = executed_notebooks.notebook_document(workspace, args.id, args.format)
    if args.output == "-":
        sys.stdout.buffer.write(document["data"])
        return 0
    target = Path(args.output or document["filename"])
    target.write_bytes(document["data"])
    print(f"wrote {target} ({len(document['data'])} bytes)")
    return 0
