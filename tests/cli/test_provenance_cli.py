"""``jupyter mlinfra history | check | replay`` on recorded history (verify: see
tests/core/provenance/test_provenance_service.py, which runs it in a kernel)."""

from __future__ import annotations

import json

import nbformat

from jupyter_mlinfra.cli.main import main
from jupyter_mlinfra.core.provenance.model import Execution


def _record(workspace, path):
    def ex(seq, cid, src, reads=(), binds=()):
        return Execution(seq=seq, cell_id=cid, source=src, session_id="s-cli",
                         notebook_path=path, execution_count=seq, started_at=1.7e9 + seq,
                         ended_at=1.7e9 + seq + 0.001, reads=frozenset(reads),
                         binds=frozenset(binds))
    workspace.service("provenance").record([
        ex(1, "a", "n = 3", binds=["n"]), ex(2, "b", "m = n * 2", ["n"], ["m"]),
        ex(3, "c", "unused = 1", binds=["unused"]), ex(4, "a", "n = 4", binds=["n"])])


def test_history_check_replay(workspace, tmp_path, capsys):
    path = "/nb/cli.ipynb"
    _record(workspace, path)
    assert main(["history", path]) == 0
    out = capsys.readouterr().out
    assert "session s-cli" in out and "unused" in out and "4 executions" in out
    assert main(["check", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stale_direct"] == ["b"] and report["out_of_order"] is True
    assert main(["check", path, "--strict"]) == 1
    assert "cell 2 is stale" in capsys.readouterr().out
    out_nb = tmp_path / "replay.ipynb"
    assert main(["replay", path, str(out_nb), "--cell", "b"]) == 0
    replay = nbformat.read(out_nb, as_version=4)
    assert [c.source for c in replay.cells if c.cell_type == "code"] == ["n = 3", "m = n * 2"]


def test_errors_are_one_line_and_an_exit_code(workspace, tmp_path, capsys):
    assert main(["check", "/nb/never-recorded.ipynb"]) == 3  # NotFound
    err = capsys.readouterr().err
    assert err.startswith("jupyter mlinfra check: error: no execution history")
    _record(workspace, "/nb/cli.ipynb")
    assert main(["replay", "/nb/cli.ipynb", str(tmp_path / "out.txt")]) == 2  # InvalidInput
    assert "must end in .ipynb" in capsys.readouterr().err
