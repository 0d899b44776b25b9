"""``%mlinfra <subcommand> ...``: one line magic (and one cell magic) with subcommands.

Each subcommand is a plain function ``f(magics, args, cell=None)`` decorated with
``@subcommand("name", help=...)`` and IPython's ``@argument(...)`` decorators; its parser is an
IPython ``MagicArgumentParser``, so bad input raises ``UsageError`` and ``%mlinfra?`` lists
every subcommand with its usage. Capability modules register their subcommands by being
imported from :mod:`jupyter_mlinfra.kernel.extension`. Bodies only parse, call the core and
display.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser, construct_parser, magic_arguments

from ..core.errors import MLInfraError
from ..grammar import MAGIC, Operation


@dataclass
class Subcommand:
    name: str
    func: Callable[..., Any]
    help: str
    cell: bool | None  # True: needs a cell body (%%mlinfra name); None: line or cell

    @property
    def parser(self) -> Any:
        return self.func.parser  # type: ignore[attr-defined]  # set by magic_arguments


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(name: str, help: str, cell: bool | None = False):
    """Register ``func`` as ``%mlinfra name``. Put ``@argument`` decorators below this one.

    ``cell=True``: only ``%%mlinfra name`` (body required); ``cell=None``: both forms, the
    function gets ``cell`` (``None`` for the line form)."""

    def wrap(func):
        func = magic_arguments()(func)
        construct_parser(func)
        func.parser.prog = f"%mlinfra {name}"
        SUBCOMMANDS[name] = Subcommand(name=name, func=func, help=help, cell=cell)
        return func

    return wrap


def operation(name: str, op: Operation, cell: bool | None = False, help: str | None = None):
    """Register ``func`` as ``%mlinfra name`` with the arguments of a shared grammar
    operation (the CLI builds its parser from the same definition)."""

    def wrap(func):
        parser = MagicArgumentParser(prog=f"%mlinfra {name}", description=op.help, add_help=False)
        op.add_arguments(parser, MAGIC)
        func.parser = parser
        SUBCOMMANDS[name] = Subcommand(name=name, func=func, help=help or op.help, cell=cell)
        return func

    return wrap


class Summary(dict):
    """A result dict (``run["state"]``, ``job["schedule"]`` work as before) shown as one
    line when it ends a cell, instead of every field."""

    def __init__(self, data: dict, line: str) -> None:
        super().__init__(data)
        self.line = line

    def __repr__(self) -> str:
        return self.line

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.line)


def usage(full: bool = False) -> str:
    """The subcommands, one line each (``full``: with every subcommand's options, for
    ``%mlinfra?``)."""
    lines = [
        "%mlinfra SUBCOMMAND [options]    (%%mlinfra for cell subcommands)",
        "",
        "Subcommands:",
    ]
    for name in sorted(SUBCOMMANDS):
        lines.append(f"  {name:<10} {SUBCOMMANDS[name].help}")
    lines.append("")
    lines.append("'%mlinfra SUBCOMMAND --help' shows the options of one subcommand.")
    if full:
        for name in sorted(SUBCOMMANDS):
            lines.append("")
            lines.append(SUBCOMMANDS[name].parser.format_help().rstrip())
    return "\n".join(lines)


@magics_class
class MLInfraMagics(Magics):
    @line_cell_magic
    def mlinfra(self, line: str, cell: str | None = None) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%mlinfra: {exc}") from None
        if not words or words[0] in ("-h", "--help", "help"):
            print(usage())
            return None
        name, rest = words[0], words[1:]
        sub = SUBCOMMANDS.get(name)
        if sub is None:
            raise UsageError(
                f"%mlinfra: unknown subcommand {name!r}; "
                f"choose from {', '.join(sorted(SUBCOMMANDS))}"
            )
        if cell is not None and sub.cell is False:
            raise UsageError(f"%%mlinfra {name} does not take a cell body; use %mlinfra {name}")
        if cell is None and sub.cell is True:
            raise UsageError(f"%mlinfra {name} needs a cell body: use %%mlinfra {name} ...")
        if "-h" in rest or "--help" in rest:
            print(sub.parser.format_help())
            return None
        args = sub.parser.parse_args(
            rest
        )  # the words as shlex split them; UsageError on bad options
        try:
            return sub.func(self, args) if sub.cell is False else sub.func(self, args, cell)
        except MLInfraError as exc:
            raise UsageError(f"%mlinfra {name}: {exc.message}") from None
