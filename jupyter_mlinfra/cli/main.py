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


# The top-level commands each module registers (a test keeps this in step with them): a
# command line naming one imports only its module, not all of them (``run`` does not import
# the model store's or the audit's modules). Anything else (no command, --help, a command
# missing here) builds the whole parser.
COMMANDS = {
    "jupyter_mlinfra.cli.info": ("info", "gc"),
    "jupyter_mlinfra.cli.provenance": (
        "enable-recording",
        "disable-recording",
        "history",
        "check",
        "replay",
        "verify",
    ),
    "jupyter_mlinfra.cli.jobs": (
        "run",
        "job",
        "runs",
        "sweep",
        "cancel",
        "retry",
        "log",
        "scheduler",
        "test",
    ),
    "jupyter_mlinfra.cli.models": ("model", "serve"),
    "jupyter_mlinfra.cli.features": ("feature",),
    "jupyter_mlinfra.cli.service": ("service",),
    "jupyter_mlinfra.cli.audit": ("audit",),
    "jupyter_mlinfra.cli.notebooks": ("notebooks",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or (``command`` given and known) of that one only."""
    parser = argparse.ArgumentParser(
        prog="jupyter mlinfra",
        description="jupyter_mlinfra: provenance, notebook jobs, model store, feature store.",
    )
    parser.add_argument("--version", action="version", version=f"jupyter_mlinfra {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    only = [m for m in COMMAND_MODULES if command in COMMANDS.get(m, ())]
    for name in only or COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..core.startup import lean_start

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["service"]:  # the service app parses its own (jupyter_server) options
        from .service import main as service_main

        return service_main(argv[1:])
    lean_start()
    parser = build_parser(argv[0] if argv else None)
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
