"""Entry point of ``jupyter mlinfra`` (also installed as ``mlinfra``).

Each capability adds a module that defines ``register(subparsers)``, listed in ``COMMAND_MODULES``;
a subcommand's handler takes ``(workspace, args)`` and returns an exit code (or None for 0).
Core errors become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .._version import __version__
from ..core.errors import MLInfraError

COMMAND_MODULES = [
    "jupyter_mlinfra.cli.info",
    "jupyter_mlinfra.cli.provenance",
    "jupyter_mlinfra.cli.jobs",
    "jupyter_mlinfra.cli.models",
    "jupyter_mlinfra.cli.features",
    "jupyter_mlinfra.cli.service",
    "jupyter_mlinfra.cli.audit",
    "jupyter_mlinfra.cli.notebooks",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter mlinfra",
        description="jupyter_mlinfra: provenance, notebook jobs, model store, feature store.",
    )
    parser.add_argument("--version", action="version", version=f"jupyter_mlinfra {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..core.startup import lean_start

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["service"]:  # the service app parses its own (jupyter_server) options
        from .service import main as service_main

        return service_main(argv[1:])
    lean_start()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        from ..core.workspace import Workspace

        workspace = Workspace.open()
        code = args.handler(workspace, args)
    except MLInfraError as exc:
        print(f"jupyter mlinfra {args.command}: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"jupyter mlinfra {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
