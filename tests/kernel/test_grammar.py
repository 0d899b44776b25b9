"""One grammar for the CLI and the magics: the same operation has the same words in both."""

from __future__ import annotations

import argparse

import pytest

from jupyter_mlinfra import grammar


def _options(parser: argparse.ArgumentParser) -> dict[str, tuple]:
    """dest -> (option strings, nargs, action type, choices) of every argument but help."""
    return {
        a.dest: (tuple(a.option_strings), a.nargs, type(a).__name__, a.choices)
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction)
    }


def _cli_parser(words: tuple[str, ...]) -> argparse.ArgumentParser:
    from jupyter_mlinfra.cli.main import build_parser

    parser = build_parser()
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def _magic_parser(words: tuple[str, ...]) -> argparse.ArgumentParser:
    import jupyter_mlinfra.kernel.extension  # noqa: F401  (registers the subcommands)
    from jupyter_mlinfra.kernel import jobs_magics
    from jupyter_mlinfra.kernel.magics import SUBCOMMANDS

    if words[0] == "job":
        return jobs_magics._job_parser(jobs_magics.JOB_ACTIONS[words[1]][0])
    if words[0] == "model":
        from jupyter_mlinfra.kernel import models_magics

        return models_magics._parser(words[1])
    if words[0] == "feature":
        from jupyter_mlinfra.kernel import features_magics

        return features_magics._parser(words[1])
    return SUBCOMMANDS[words[0]].parser


def _dest(a: grammar.Arg) -> str:
    return a.kwargs.get("dest") or a.flags[-1].lstrip("-").replace("-", "_")


@pytest.mark.parametrize(
    "operation",
    grammar.JOBS_OPERATIONS
    + grammar.PROVENANCE_OPERATIONS
    + grammar.MODEL_OPERATIONS
    + grammar.FEATURE_OPERATIONS,
    ids=lambda o: o.name,
)
def test_cli_and_magic_spell_an_operation_the_same_way(operation):
    cli, magic = _options(_cli_parser(operation.words)), _options(_magic_parser(operation.words))
    one_door = {_dest(a) for a in operation.args if a.doors != grammar.BOTH}
    # what only one door has: printing JSON or an exit code is for a terminal (a magic
    # returns values); a magic's notebook is its own, so PATH is optional there; the
    # magic's old --path spelling of replay
    assert one_door <= {"json", "strict", "path", "path_option"}
    assert {k: v for k, v in cli.items() if k not in one_door} == {
        k: v for k, v in magic.items() if k not in one_door
    }
    assert set(cli) - one_door == set(magic) - one_door


def test_old_magic_spellings_are_aliases_of_the_cli_words():
    from jupyter_mlinfra.kernel.magics import SUBCOMMANDS

    _magic_parser(("run",))
    assert _options(SUBCOMMANDS["schedule"].parser) == _options(_magic_parser(("job", "create")))
    assert _options(SUBCOMMANDS["jobs"].parser) == _options(_magic_parser(("job", "list")))
    create = _cli_parser(("job", "create"))
    assert create.parse_args(["n", "nb.ipynb", "--cron", "0 6 * * *"]).schedule == "0 6 * * *"
    assert create.parse_args(["n", "nb.ipynb", "--schedule", "0 6 * * *"]).schedule == "0 6 * * *"


def test_replay_takes_the_notebook_first_in_both_doors_and_the_old_magic_spelling():
    magic, cli = _magic_parser(("replay",)), _cli_parser(("replay",))
    assert (
        cli.parse_args(["nb.ipynb", "out.ipynb"]).path,
        magic.parse_args(["nb.ipynb", "out.ipynb"]).path,
    ) == ("nb.ipynb", "nb.ipynb")
    this_notebook = magic.parse_args(["out.ipynb"])
    assert (this_notebook.path, this_notebook.out) == (None, "out.ipynb")
    old = magic.parse_args(["out.ipynb", "--path", "nb.ipynb"])
    assert (old.path_option, old.out) == ("nb.ipynb", "out.ipynb")


def test_alias_protection_is_one_or_the_other_in_both_doors():
    from IPython.core.error import UsageError

    words = ["churn", "production", "3", "--protect", "--unprotect"]
    with pytest.raises(SystemExit):
        _cli_parser(("model", "alias")).parse_args(words)
    with pytest.raises(UsageError):
        _magic_parser(("model", "alias")).parse_args(words)
    assert _magic_parser(("model", "alias")).parse_args(words[:4]).protect is True
