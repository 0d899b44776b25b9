"""``%mlinfra feature ...`` and ``%%mlinfra feature NAME``: the feature store from cells.

Define a view with a cell whose body is the transform (a function, or statements on ``df``)::

    %%mlinfra feature spend --entity customer --ttl 2d --source txns --materialize
    def spend(df):
        df["amount_log"] = np.log1p(df["amount"])
        return df

    %mlinfra feature list [TEXT] [--owner U] [--tag T] [--entity E]
    %mlinfra feature describe NAME [--version N]
    %mlinfra feature entity NAME [--join-key K ...] [--description D]
    %mlinfra feature entities
    %mlinfra feature materialize NAME [--start T] [--end T]
    %mlinfra feature frame ENTITY_DF_VAR FEATURE [FEATURE ...] [--as VAR] [--timestamp COL]
    %mlinfra feature online FEATURE [FEATURE ...] --key customer_id=42 [--key ...]
    %mlinfra feature push NAME VAR
    %mlinfra feature compact NAME
    %mlinfra feature sample NAME [-n 10]
    %mlinfra feature update NAME [--description D] [--tag T ...] [--visibility V] [--ttl 3d]
    %mlinfra feature delete NAME
"""

from __future__ import annotations

import argparse
import ast
import textwrap

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser, argument

from .. import grammar
from ..core.features.text import describe_text, materialize_text
from ..core.text_table import render_table
from ..core.workspace import get_workspace
from .magics import subcommand

ACTIONS = (
    "list",
    "describe",
    "entity",
    "entities",
    "materialize",
    "frame",
    "online",
    "push",
    "compact",
    "sample",
    "update",
    "delete",
)


def _define_parser() -> MagicArgumentParser:
    p = MagicArgumentParser(prog="%%mlinfra feature NAME", add_help=False)
    p.add_argument("name")
    p.add_argument("--entity", action="append", required=True, help="entity name (repeatable)")
    p.add_argument("--ttl", help="e.g. 2d, 12h, 30m (default: no limit)")
    p.add_argument("--source", help="a DataFrame variable, a parquet/CSV path or artifact:<key>")
    p.add_argument("--timestamp", default="event_timestamp", help="event-timestamp column")
    p.add_argument("--created", help="created-timestamp column (breaks ties)")
    p.add_argument("--schema", action="append", default=[], metavar="NAME=TYPE")
    p.add_argument("--description")
    p.add_argument("--tag", action="append")
    p.add_argument("--visibility", choices=("private", "team", "public"))
    p.add_argument("--materialize", action="store_true", help="materialize right away")
    return p


# the words the CLI shares (grammar.py); frame and push take notebook variables here
_SHARED = {o.words[-1]: o for o in grammar.FEATURE_OPERATIONS}


def _parser(action: str) -> MagicArgumentParser:
    p = MagicArgumentParser(prog=f"%mlinfra feature {action}", add_help=False)
    if action in _SHARED:
        _SHARED[action].add_arguments(p, grammar.MAGIC)
    elif action == "frame":
        p.add_argument("entity_df", help="variable holding the entity DataFrame")
        p.add_argument("features", nargs="+")
        p.add_argument("--as", dest="target", metavar="VAR")
        p.add_argument("--timestamp")
    elif action == "push":
        p.add_argument("name")
        p.add_argument("rows", help="variable holding a DataFrame, a dict or a list of dicts")
    return p


def _usage() -> str:
    return (__doc__ or "").strip()


@subcommand(
    "feature",
    help="feature store: define (%%), list, describe, materialize, frame, online, push",
    cell=None,
)
@argument(
    "rest",
    nargs=argparse.REMAINDER,
    help=" | ".join(ACTIONS) + " (or %%mlinfra "
    "feature NAME --entity E --ttl 2d with the transform in the cell)",
)
def feature(magics, args, cell=None):
    svc = get_workspace().service("features")
    shell = magics.shell
    words = list(args.rest)
    if cell is not None:
        return _define(svc, shell, words, cell)
    if not words:
        print(_usage())
        return None
    action, rest = words[0], words[1:]
    if action not in ACTIONS:
        raise UsageError(
            f"%mlinfra feature: unknown action {action!r}; choose from "
            f"{', '.join(ACTIONS)} (define a view with %%mlinfra feature NAME)"
        )
    opts = _parser(action).parse_args(rest)
    if action == "list":
        rows = svc.list_views(
            text=" ".join(opts.text) or None, owner=opts.owner, tag=opts.tag, entity=opts.entity
        )
        if not rows:
            print("no feature views match")
            return None
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
        return None
    if action == "describe":
        print(describe_text(svc.describe(opts.name, opts.version)))
        return None
    if action == "entity":
        out = svc.register_entity(opts.name, opts.join_keys, opts.description)
        print(f"entity {out['name']} (join keys: {', '.join(out['join_keys'])})")
        return None
    if action == "entities":
        rows = svc.list_entities()
        print(
            render_table(
                [{**r, "join_keys": ", ".join(r["join_keys"])} for r in rows],
                ["name", "join_keys", "owner", "description"],
            )
            if rows
            else "no entities"
        )
        return None
    if action == "materialize":
        out = svc.materialize(opts.name, start=opts.start, end=opts.end)
        print(materialize_text(out))
        return None
    if action == "frame":
        entity_df = _variable(shell, opts.entity_df, "the entity DataFrame")
        frame = svc.get_training_frame(entity_df, opts.features, timestamp_column=opts.timestamp)
        if opts.target:
            shell.user_ns[opts.target] = frame
            views = ", ".join(
                f"{v['name']} v{v['version']}" for v in frame.attrs["mlinfra_lineage"]["views"]
            )
            print(f"{opts.target}: {len(frame)} rows x {frame.shape[1]} columns from {views}")
            return None
        return frame
    if action == "online":
        rows = [_parse_key(k) for k in opts.key]
        return svc.get_online_features(opts.features, rows).to_df()
    if action == "push":
        out = svc.push(opts.name, _variable(shell, opts.rows, "the rows"))
        if out.get("captured"):
            print(f"captured: {out['summary']} (reproduce run: not applied)")
            return None
        print(
            f"pushed {out['rows']} row(s) to {out['view']} v{out['version']} "
            f"(offline files {out['files']}, online rows {out['online_rows']})"
        )
        return None
    if action == "compact":
        out = svc.compact(opts.name)
        print(
            f"{out['view']} v{out['version']}: {out['files_before']} -> {out['files_after']} "
            f"offline files"
        )
        return None
    if action == "sample":
        return svc.sample(opts.name, opts.n)
    if action == "update":
        out = svc.update_view(
            opts.name,
            description=opts.description,
            tags=opts.tag,
            visibility=opts.visibility,
            ttl=opts.ttl,
        )
        print(
            f"{out['name']}: visibility {out['visibility']}, ttl {out['ttl']}, tags "
            f"{', '.join(out['tags']) or '-'}"
        )
        return None
    if action == "delete":
        out = svc.delete_view(opts.name)
        print(f"deleted feature view {out['view']} ({out['offline_files']} offline files)")
        return None
    return None


def _variable(shell, name: str, what: str):
    if name not in shell.user_ns:
        raise UsageError(f"%mlinfra feature: no variable {name!r} for {what}")
    return shell.user_ns[name]


def _parse_key(text: str) -> dict:
    row: dict[str, int | str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--key expects COLUMN=VALUE, got {text!r}")
        value = value.strip()
        try:
            row[key.strip()] = int(value)
        except ValueError:
            row[key.strip()] = value
    return row


def _define(svc, shell, words: list[str], cell: str):
    opts = _define_parser().parse_args(words)
    if not cell.strip():
        raise UsageError("%%mlinfra feature: the cell must define the transform")
    try:
        tree = ast.parse(cell)
    except SyntaxError as exc:
        raise UsageError(f"%%mlinfra feature: the cell is not valid Python: {exc}") from None
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef,))]
    if defined:
        exec(compile(cell, f"<mlinfra feature {opts.name}>", "exec"), shell.user_ns)
        for candidate in ("transform", opts.name):
            if candidate in defined:
                chosen = candidate
                break
        else:
            if len(defined) != 1:
                raise UsageError(
                    f"%%mlinfra feature: the cell defines {defined}; name the "
                    f"transform 'transform' or {opts.name!r}"
                )
            chosen = defined[0]
        func = shell.user_ns[chosen]
    else:
        # Statements on `df`: the body of transform(df), which returns df.
        body = textwrap.indent(cell.rstrip(), "    ")
        local: dict = {}
        exec(
            compile(
                f"def transform(df):\n{body}\n    return df\n",
                f"<mlinfra feature {opts.name}>",
                "exec",
            ),
            shell.user_ns,
            local,
        )
        func = local["transform"]
    source = opts.source
    if source is not None and source in shell.user_ns:
        source = shell.user_ns[source]
    schema = {}
    for item in opts.schema:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--schema expects NAME=TYPE, got {item!r}")
        schema[key] = value
    out = svc.register_view(
        opts.name,
        entities=opts.entity,
        source=source,
        transform=func,
        transform_source=cell,
        event_timestamp=opts.timestamp,
        created_timestamp=opts.created,
        ttl=opts.ttl,
        schema=schema or None,
        description=opts.description,
        tags=opts.tag,
        visibility=opts.visibility,
    )
    features = ", ".join(f"{f['name']}:{f['dtype']}" for f in out["features"])
    state = "registered" if out["created"] else "unchanged"
    if out["changed"] and not out["created"]:
        state = "updated " + ", ".join(out["changed"])
    print(f"feature view {out['view']} v{out['version']} {state}: {features}")
    if opts.materialize:
        print(materialize_text(svc.materialize(opts.name)))
    return None
