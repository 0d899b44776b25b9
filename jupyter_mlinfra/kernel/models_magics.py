"""``%mlinfra model ...``: the model store from notebook cells.

%mlinfra model register clf --name churn --alias staging --tag team=growth --metric auc=0.91
                            [--featurize FN] [--predict FN] [--example VAR] [--train VAR]
                            [--valid VAR] [--task T] [--description D] [--file PATH]
%mlinfra model list [QUERY] [--tag k=v] [--owner U] [--metric "auc>=0.9"] [--archived]
%mlinfra model show churn | churn:3 | churn@production       (rich model card)
%mlinfra model alias churn production 3 [--protect | --unprotect]
%mlinfra model unalias churn staging
%mlinfra model archive churn:1 [--restore]
%mlinfra model update churn [--version 3] [--description D] [--tag k=v]
%mlinfra model load churn@production [--as model]
%mlinfra model compare churn:1 churn:2
%mlinfra model reproduce churn:2 [--tolerance 1e-6]
"""

from __future__ import annotations

import argparse
import json

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser, argument

from .. import grammar
from ..core.models.text import format_comparison, format_reproduction
from ..core.models.versions import parse_key_values
from ..core.text_table import render_table
from ..core.workspace import get_workspace
from .magics import subcommand

ACTIONS = (
    "register",
    "list",
    "show",
    "alias",
    "unalias",
    "archive",
    "update",
    "load",
    "compare",
    "reproduce",
)


# the words every door shares (grammar.py); register and load are the magics' own
_SHARED = {o.words[-1]: o for o in grammar.MODEL_OPERATIONS}


def _parser(action: str) -> MagicArgumentParser:
    p = MagicArgumentParser(
        prog=f"%mlinfra model {action}", add_help=False, formatter_class=argparse.HelpFormatter
    )
    if action == "register":
        p.add_argument("variable", help="the notebook variable holding the fitted model")
        p.add_argument("--name", required=True)
        p.add_argument("--alias")
        p.add_argument("--protect", action="store_true", help="protect the alias")
        p.add_argument("--tag", action="append", default=[], metavar="K=V")
        p.add_argument("--metric", action="append", default=[], metavar="K=V")
        p.add_argument("--featurize", metavar="FUNCTION")
        p.add_argument("--predict", metavar="FUNCTION")
        p.add_argument("--example", metavar="VAR", help="input example (signature)")
        p.add_argument("--train", metavar="VAR", help="training data (variable or path)")
        p.add_argument("--valid", metavar="VAR", help="validation data (variable or path)")
        p.add_argument("--task")
        p.add_argument("--description", default="")
        p.add_argument("--file", action="append", default=[], metavar="PATH")
        p.add_argument("--require-clean", action="store_true", default=None)
    elif action in _SHARED:
        _SHARED[action].add_arguments(p, grammar.MAGIC)
    elif action == "load":
        p.add_argument("ref")
        p.add_argument("--as", dest="target", metavar="VAR")
    return p


def _lookup(shell, name: str | None, what: str, allow_path: bool = False):
    if name is None:
        return None
    if name in shell.user_ns:
        return shell.user_ns[name]
    if allow_path:
        return name  # a path or URI
    raise UsageError(f"%mlinfra model register: no variable {name!r} for {what}")


@subcommand("model", help="model store: register, list, show, alias, load, compare, reproduce")
@argument("action", help=" | ".join(ACTIONS))
@argument("rest", nargs=argparse.REMAINDER)
def model(magics, args):
    if args.action not in ACTIONS:
        raise UsageError(
            f"%mlinfra model: unknown action {args.action!r}; choose from {', '.join(ACTIONS)}"
        )
    opts = _parser(args.action).parse_args(list(args.rest))  # words as %mlinfra split them
    shell = magics.shell
    store = get_workspace().service("models")
    action = args.action
    if action == "register":
        from .. import models as api

        obj = _lookup(shell, opts.variable, "the model")
        metrics = parse_key_values(opts.metric, "--metric")
        version = api.register(
            opts.name,
            obj,
            featurize=_lookup(shell, opts.featurize, "--featurize"),
            predict=_lookup(shell, opts.predict, "--predict"),
            input_example=_lookup(shell, opts.example, "--example"),
            training_data=_lookup(shell, opts.train, "--train", allow_path=True),
            validation_data=_lookup(shell, opts.valid, "--valid", allow_path=True),
            metrics=metrics,
            tags=parse_key_values(opts.tag, "--tag"),
            task=opts.task,
            description=opts.description,
            alias=opts.alias,
            protect_alias=opts.protect,
            files=opts.file,
            variable=opts.variable,
            require_clean=opts.require_clean,
        )
        if not version.registered:
            print(f"captured {opts.name} (reproduce run: nothing registered)")
            return None
        extra = f", alias @{opts.alias}" if opts.alias else ""
        clean = (
            "" if version.clean else "  [clean: false: " + "; ".join(version.dirty_reasons) + "]"
        )
        print(f"registered {version.ref}{extra}: {len(version.artifacts)} artifacts{clean}")
        return None
    if action == "list":
        rows = store.list_models(
            opts.query,
            owner=opts.owner,
            tags=parse_key_values(opts.tag, "--tag"),
            metrics=opts.metric,
            include_archived=opts.archived,
        )
        if not rows:
            print("no models match")
            return None
        print(
            render_table(
                [
                    {
                        **r,
                        "aliases": ", ".join(f"{a}->{v}" for a, v in sorted(r["aliases"].items())),
                        "metrics": ", ".join(
                            f"{k}={v:.4g}" for k, v in sorted(r["metrics"].items())
                        ),
                    }
                    for r in rows
                ],
                ["name", "latest_version", "aliases", "metrics", "owner"],
            )
        )
        return None
    if action == "show":
        if "@" in opts.ref or ":" in opts.ref:
            return store.get(opts.ref)
        return store.card(opts.ref)
    if action == "alias":
        protected = True if opts.protect else (False if opts.unprotect else None)
        moved = store.set_alias(opts.name, opts.alias, opts.version, protected=protected)
        print(
            f"{opts.name}@{opts.alias} -> version {moved['version']}"
            + (" (protected)" if moved["protected"] else "")
        )
        return None
    if action == "unalias":
        store.delete_alias(opts.name, opts.alias)
        print(f"removed alias {opts.name}@{opts.alias}")
        return None
    if action == "archive":
        version = store.archive(opts.ref, archived=not opts.restore)
        print(f"{version.ref} is {version.status}")
        return None
    if action == "update":
        result = store.update(
            opts.name,
            version=opts.version,
            description=opts.description,
            tags=parse_key_values(opts.tag, "--tag"),
        )
        print(json.dumps(result))
        return None
    if action == "load":
        loaded = store.load(opts.ref)
        if opts.target:
            shell.user_ns[opts.target] = loaded
            print(f"{opts.target} = {loaded!r}")
            return None
        return loaded
    if action == "compare":
        result = store.compare(opts.a, opts.b)
        print(format_comparison(result))
        return None
    if action == "reproduce":
        result = store.reproduce(opts.ref, tolerance=opts.tolerance)
        print(format_reproduction(result))
        return None
    return None


def _actions_help() -> str:
    lines = ["actions:"]
    for action in ACTIONS:
        usage = _parser(action).format_usage().strip().removeprefix("usage: ")
        lines.append(f"  {usage}")
    return "\n".join(lines)


model.parser.epilog = _actions_help()
model.parser.formatter_class = argparse.RawDescriptionHelpFormatter
