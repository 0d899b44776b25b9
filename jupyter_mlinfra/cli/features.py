"""``jupyter mlinfra feature ...``: the feature store from the command line.

jupyter mlinfra feature apply definitions.py        # run a file of features.register(...)
jupyter mlinfra feature list [TEXT] [--owner U] [--tag T] [--entity E] [--json]
jupyter mlinfra feature describe NAME [--version N] [--json]
jupyter mlinfra feature entities | entity NAME --join-key K
jupyter mlinfra feature materialize NAME [--start T] [--end T]
jupyter mlinfra feature frame --entities rows.parquet --feature spend:amount -o frame.parquet
jupyter mlinfra feature online spend:amount --key customer_id=42
jupyter mlinfra feature push NAME rows.csv|rows.parquet|rows.json
jupyter mlinfra feature compact NAME
jupyter mlinfra feature sample NAME [-n 10]
jupyter mlinfra feature update NAME [--visibility team] [--ttl 3d] [--tag T] [--description D]
jupyter mlinfra feature delete NAME
"""

from __future__ import annotations

import json
import runpy
import traceback
from pathlib import Path

from .. import grammar
from ..core.errors import InvalidInput, MLInfraError
from ..core.features.text import describe_text, materialize_text
from ..core.text_table import render_table


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "feature",
        help="feature store: definitions, materialization, training frames, online lookups",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    a = sub.add_parser("apply", help="run a Python file that registers entities and views")
    a.add_argument("file")
    a.set_defaults(handler=apply)

    handlers = {
        "list": list_views,
        "describe": describe,
        "entities": entities,
        "entity": entity,
        "materialize": materialize,
        "online": online,
        "compact": compact,
        "sample": sample,
        "update": update,
        "delete": delete,
    }
    for operation in grammar.FEATURE_OPERATIONS:  # the words the magics share
        a = sub.add_parser(operation.words[-1], help=operation.help)
        operation.add_arguments(a, grammar.CLI)
        a.set_defaults(handler=handlers[operation.words[-1]])

    a = sub.add_parser("frame", help="build a point-in-time training frame")
    a.add_argument("--entities", required=True, help="parquet or CSV file of entity rows")
    a.add_argument("--feature", action="append", required=True, dest="features")
    a.add_argument("--timestamp", help="timestamp column of the entity rows")
    a.add_argument("-o", "--output", required=True, help="parquet or CSV file to write")
    a.set_defaults(handler=frame)

    a = sub.add_parser("push", help="push new rows (CSV, parquet or JSON records)")
    a.add_argument("name")
    a.add_argument("file")
    a.set_defaults(handler=push)


def _svc(workspace):
    return workspace.service("features")


def apply(workspace, args) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    svc = _svc(workspace)
    before = {v["name"]: v["latest_version"] for v in svc.list_views()}
    _run_definitions(path)
    after = svc.list_views()
    for v in after:
        old = before.get(v["name"])
        state = (
            "new" if old is None else ("new version" if old != v["latest_version"] else "unchanged")
        )
        print(f"{v['name']} v{v['latest_version']}: {state}")
    return 0


def _run_definitions(path: Path) -> None:
    """Run the definitions file; a file that does not run is one error line naming the file,
    the line and the error (what was registered before that line stays registered)."""
    try:
        runpy.run_path(str(path), run_name="__main__")
    except MLInfraError:
        raise
    except SyntaxError as exc:
        raise InvalidInput(f"{path}, line {exc.lineno}: {type(exc).__name__}: {exc.msg}") from None
    except Exception as exc:
        own = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if Path(f.filename).resolve() == path.resolve()
        ]
        where = f", line {own[-1].lineno}" if own else ""
        message = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise InvalidInput(
            f"{path}{where}: {type(exc).__name__}" + (f": {message}" if message else "")
        ) from None


def list_views(workspace, args) -> int:
    rows = _svc(workspace).list_views(
        text=" ".join(args.text) or None, owner=args.owner, tag=args.tag, entity=args.entity
    )
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no feature views match")
        return 0
    print(
        render_table(
            [
                {
                    **r,
                    "features": ", ".join(f["name"] for f in r["features"]),
                    "entities": ", ".join(r["entities"]),
                    "tags": ", ".join(r["tags"]),
                    "version": r["latest_version"],
                }
                for r in rows
            ],
            ["name", "version", "entities", "features", "ttl", "owner", "visibility", "tags"],
        )
    )
    return 0


def describe(workspace, args) -> int:
    info = _svc(workspace).describe(args.name, args.version)
    print(json.dumps(info, indent=2, default=str) if args.json else describe_text(info))
    return 0


def entities(workspace, args) -> int:
    rows = _svc(workspace).list_entities()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(
            render_table(
                [{**r, "join_keys": ", ".join(r["join_keys"])} for r in rows],
                ["name", "join_keys", "owner", "description"],
            )
        )
    return 0


def entity(workspace, args) -> int:
    out = _svc(workspace).register_entity(args.name, args.join_keys, args.description)
    print(f"entity {out['name']} (join keys: {', '.join(out['join_keys'])})")
    return 0


def materialize(workspace, args) -> int:
    print(materialize_text(_svc(workspace).materialize(args.name, start=args.start, end=args.end)))
    return 0


def _read_table(path: str):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such file: {path}")
    try:
        if p.suffix.lower() in (".csv", ".tsv"):
            return pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
        if p.suffix.lower() in (".json", ".jsonl"):
            return pd.read_json(p, lines=p.suffix.lower() == ".jsonl")
        return pd.read_parquet(p)
    except Exception as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None


def frame(workspace, args) -> int:
    entity_df = _read_table(args.entities)
    out = _svc(workspace).get_training_frame(
        entity_df, args.features, timestamp_column=args.timestamp
    )
    lineage = out.attrs["mlinfra_lineage"]
    target = Path(args.output)
    if target.suffix.lower() == ".csv":
        out.to_csv(target, index=False)
    else:
        out.attrs = {}
        out.to_parquet(target, index=False)
    lineage_path = target.with_name(target.name + ".lineage.json")
    lineage_path.write_text(json.dumps(lineage, indent=2, default=str))
    print(f"wrote {len(out)} rows x {out.shape[1]} columns to {target} (lineage: {lineage_path})")
    return 0


def online(workspace, args) -> int:
    rows = []
    for text in args.key:
        row = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise InvalidInput(f"--key expects COLUMN=VALUE, got {text!r}")
            try:
                row[key.strip()] = int(value)
            except ValueError:
                row[key.strip()] = value.strip()
        rows.append(row)
    result = _svc(workspace).get_online_features(args.features, rows)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        table = result.to_dict()
        columns = list(table)
        print(render_table([{c: table[c][i] for c in columns} for i in range(len(rows))], columns))
    return 0


def push(workspace, args) -> int:
    out = _svc(workspace).push(args.name, _read_table(args.file))
    print(f"pushed {out['rows']} row(s) to {out['view']} v{out['version']}")
    return 0


def compact(workspace, args) -> int:
    out = _svc(workspace).compact(args.name)
    print(
        f"{out['view']} v{out['version']}: {out['files_before']} -> {out['files_after']} "
        f"offline files ({out['partitions']} partition(s) merged)"
    )
    return 0


def sample(workspace, args) -> int:
    df = _svc(workspace).sample(args.name, args.n)
    print(df.to_string(index=False) if len(df) else "no rows yet")
    return 0


def update(workspace, args) -> int:
    out = _svc(workspace).update_view(
        args.name,
        description=args.description,
        tags=args.tag,
        visibility=args.visibility,
        ttl=args.ttl,
    )
    print(
        f"{out['name']}: visibility {out['visibility']}, ttl {out['ttl']}, tags "
        f"{', '.join(out['tags']) or '-'}"
    )
    return 0


def delete(workspace, args) -> int:
    out = _svc(workspace).delete_view(args.name)
    print(f"deleted feature view {out['view']} ({out['offline_files']} offline files)")
    return 0
