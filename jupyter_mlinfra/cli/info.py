"""``jupyter mlinfra info``: the resolved configuration and storage health;
``jupyter mlinfra gc``: free the artifact blobs nothing refers to."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="show the resolved configuration and its sources")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=info)

    p = subparsers.add_parser(
        "gc",
        help="remove artifact blobs nothing refers to (a serving scheduler also does "
        "it every artifacts_gc_every seconds)",
    )
    p.add_argument(
        "--min-age",
        type=float,
        default=None,
        metavar="SECONDS",
        help="only blobs at least this old (default: artifacts_gc_min_age, 3600); "
        "a younger one may belong to a write in progress",
    )
    p.set_defaults(handler=gc)


def info(workspace, args) -> int:
    if args.json:
        print(
            json.dumps(
                {
                    "settings": workspace.config.describe(),
                    "config_files": workspace.config.files,
                    "health": workspace.health(),
                },
                indent=2,
                default=str,
            )
        )
    else:
        print(workspace.info_text())
    return 0


def gc(workspace, args) -> int:
    from ..core.errors import InvalidInput

    min_age = (
        workspace.config.settings.artifacts_gc_min_age if args.min_age is None else args.min_age
    )
    if min_age < 0:
        raise InvalidInput("--min-age must be a number of seconds >= 0")
    removed = workspace.artifacts.gc(min_age=min_age)
    print(f"removed {removed} unreferenced blob(s) from {workspace.artifacts.describe()['root']}")
    return 0
