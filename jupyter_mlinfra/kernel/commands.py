"""Foundation subcommands: ``%mlinfra info``."""

from __future__ import annotations

from ..core.workspace import get_workspace
from .magics import subcommand


@subcommand("info", help="show the resolved configuration and where each value came from")
def info(magics, args) -> None:
    print(get_workspace().info_text())
