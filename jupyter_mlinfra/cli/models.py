"""``jupyter mlinfra model ...`` and ``jupyter mlinfra serve NAME@ALIAS``."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import cast

from .. import grammar
from ..core.errors import InvalidInput
from ..core.models.versions import parse_key_values
from ..core.text_table import render_table


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "model",
        help="model store: list, show, alias, archive, compare, "
        "reproduce, batch-predict, dockerfile",
    )
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    handlers = {
        "list": list_models,
        "show": show,
        "alias": alias,
        "unalias": unalias,
        "archive": archive,
        "update": update,
        "compare": compare,
        "reproduce": reproduce,
    }
    for operation in grammar.MODEL_OPERATIONS:
        s = sub.add_parser(operation.words[-1], help=operation.help)
        operation.add_arguments(s, grammar.CLI)
        s.set_defaults(handler=handlers[operation.words[-1]])

    s = sub.add_parser("batch-predict", help="predict over a parquet/CSV file")
    s.add_argument("ref")
    s.add_argument("input")
    s.add_argument("output")
    s.add_argument("--column", default="prediction")
    s.add_argument("--in-process", action="store_true", help="run here instead of as a job run")
    s.add_argument("--no-wait", action="store_true", help="submit the job run and return")
    s.set_defaults(handler=batch_predict)

    s = sub.add_parser("dockerfile", help="write a Dockerfile and pinned requirements.txt")
    s.add_argument("ref")
    s.add_argument("--output", "-o", default=".", help="folder to write into")
    s.set_defaults(handler=dockerfile)

    s = subparsers.add_parser("serve", help="serve a model over HTTP (POST /predict)")
    s.add_argument("ref", help="NAME@ALIAS, NAME:VERSION or NAME")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--verbose", action="store_true", help="log every request")
    s.add_argument(
        "--refresh",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="re-resolve an alias (or the latest version) this often and serve the "
        "version it points at (0: never; a NAME:VERSION is never re-resolved)",
    )
    s.set_defaults(handler=serve)


def _store(workspace):
    return workspace.service("models")


def list_models(workspace, args) -> int:
    rows = _store(workspace).list_models(
        args.query,
        owner=args.owner,
        tags=parse_key_values(args.tag, "--tag"),
        metrics=args.metric,
        include_archived=args.archived,
    )
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no models match")
        return 0
    print(
        render_table(
            [
                {
                    **r,
                    "aliases": ", ".join(f"{a}->{v}" for a, v in sorted(r["aliases"].items())),
                    "metrics": ", ".join(f"{k}={v:.4g}" for k, v in sorted(r["metrics"].items())),
                }
                for r in rows
            ],
            ["name", "latest_version", "aliases", "metrics", "owner"],
        )
    )
    return 0


def show(workspace, args) -> int:
    store = _store(workspace)
    if "@" in args.ref or ":" in args.ref:
        version = store.get(args.ref)
        body = version.to_dict(full=True)
        if args.json:
            print(json.dumps(body, indent=2, default=str))
        else:
            d = version.definition
            print(
                f"{version.ref}  {d.get('module')}.{d.get('class')}  owner {version.owner}  "
                f"{version.status}  aliases {', '.join(version.aliases) or '-'}"
            )
            print("metrics: " + (", ".join(f"{k}={v}" for k, v in version.metrics.items()) or "-"))
            print("hyper-parameters: " + json.dumps(d.get("hyperparameters", {})))
            print(
                "clean: "
                + ("yes" if version.clean else "no (" + "; ".join(version.dirty_reasons) + ")")
            )
            print(render_table(version.artifacts, ["name", "kind", "size", "sha256"]))
        return 0
    card = store.card(args.ref)
    if args.json:
        d = dict(card.described)
        d["versions"] = [v.to_dict(full=False) for v in d["versions"]]
        print(json.dumps(d, indent=2, default=str))
    else:
        print(repr(card))
    return 0


def alias(workspace, args) -> int:
    protected = True if args.protect else (False if args.unprotect else None)
    moved = _store(workspace).set_alias(args.name, args.alias, args.version, protected=protected)
    print(
        f"{args.name}@{args.alias} -> version {moved['version']}"
        + (" (protected)" if moved["protected"] else "")
    )
    return 0


def unalias(workspace, args) -> int:
    _store(workspace).delete_alias(args.name, args.alias)
    print(f"removed alias {args.name}@{args.alias}")
    return 0


def archive(workspace, args) -> int:
    version = _store(workspace).archive(args.ref, archived=not args.restore)
    print(f"{version.ref} is {version.status}")
    return 0


def update(workspace, args) -> int:
    print(
        json.dumps(
            _store(workspace).update(
                args.name,
                version=args.version,
                description=args.description,
                tags=parse_key_values(args.tag, "--tag"),
            )
        )
    )
    return 0


def compare(workspace, args) -> int:
    result = _store(workspace).compare(args.a, args.b)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        from ..core.models.text import format_comparison

        print(format_comparison(result))
    return 0


def reproduce(workspace, args) -> int:
    result = _store(workspace).reproduce(args.ref, tolerance=args.tolerance)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        from ..core.models.text import format_reproduction

        print(format_reproduction(result))
    return 0 if result["reproduced"] else 1


def batch_predict(workspace, args) -> int:
    result = _store(workspace).batch_predict(
        args.ref,
        args.input,
        args.output,
        output_column=args.column,
        as_job=False if args.in_process else None,
        wait=not args.no_wait,
    )
    if result.get("rows") is None:
        print(f"submitted {result['executed_by']}: {result['model']} over {result['input']}")
        return 0
    print(
        f"{result['rows']} rows predicted with {result['model']} -> {result['output']} "
        f"in {result['seconds']} s ({result['executed_by']})"
    )
    return 0


def dockerfile(workspace, args) -> int:
    result = _store(workspace).dockerfile(args.ref, args.output)
    print(
        f"wrote {', '.join(result['files'])} ({result['pinned']} pinned requirements) "
        f"serving {result['served']}"
    )
    return 0


def serve(workspace, args) -> int:
    from ..core.models.deploy import make_server

    if args.refresh < 0:
        raise InvalidInput("--refresh must be 0 (never) or a number of seconds")
    server = make_server(
        _store(workspace), args.ref, args.host, args.port, args.verbose, refresh=args.refresh
    )
    # an AF_INET server: getsockname() gives (host str, port), the stubs allow bytes too
    host, port = cast(tuple[str, int], server.server_address[:2])
    loaded = server.loaded
    print(
        f"serving {args.ref} ({loaded.ref}) on http://{host}:{port}  "
        f"POST /predict  GET /health  (pid {os.getpid()})",
        flush=True,
    )

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        print("stopped", file=sys.stderr)
    return 0
