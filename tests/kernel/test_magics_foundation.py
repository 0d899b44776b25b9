"""%load_ext jupyter_mlinfra and the %mlinfra magic's dispatch, help and errors."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError


def test_info_shows_resolved_configuration(ip, capsys, mlinfra_env):
    ip.run_line_magic("mlinfra", "info")
    out = capsys.readouterr().out
    assert str(mlinfra_env) in out
    assert "env MLINFRA_HOME" in out
    assert "catalog:" in out and "sqlite" in out


def test_help_lists_subcommands(ip, capsys):
    from jupyter_mlinfra.kernel.magics import SUBCOMMANDS

    ip.run_line_magic("mlinfra", "")
    out = capsys.readouterr().out
    assert "info" in out and "Subcommands" in out
    # one screen: a line per subcommand, the options are behind --help
    assert all(f"  {name} " in out for name in SUBCOMMANDS)
    assert len(out.splitlines()) <= len(SUBCOMMANDS) + 6 and "--parameter" not in out
    ip.run_line_magic("mlinfra", "run --help")
    assert "--parameter" in capsys.readouterr().out
    # `%mlinfra?` shows the magic's docstring: it must list the subcommands too.
    doc = ip.find_line_magic("mlinfra").__doc__
    assert "%mlinfra info" in doc


def test_unknown_subcommand_and_bad_options_are_usage_errors(ip):
    with pytest.raises(UsageError, match="unknown subcommand"):
        ip.run_line_magic("mlinfra", "frobnicate")
    with pytest.raises(UsageError):
        ip.run_line_magic("mlinfra", "info --no-such-flag")
    with pytest.raises(UsageError):
        ip.run_line_magic("mlinfra", "info 'unterminated")
