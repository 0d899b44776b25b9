"""``jupyter mlinfra info``: the resolved configuration and storage health."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="show the resolved configuration and its sources")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=info)


def info(workspace, args) -> int:
    if args.json:
        print(json.dumps({"settings": workspace.config.describe(),
                          "config_files": workspace.config.files,
                          "health": workspace.health()}, indent=2, default=str))
    else:
        print(workspace.info_text())
    return 0
