"""``jupyter mlinfra history | check | replay`` on recorded history (verify: see
tests/core/provenance/test_provenance_service.py, which runs it in a kernel)."""

from __future__ import annotations

import json

import nbformat

from jupyter_mlinfra.cli.main import main
from jupyter_mlinfra.core.provenance.model import Execution


def _record(workspace, path):
    def ex(seq, cid, src, reads=(), binds=()):
        return Execution(
            seq=seq,
            cell_id=cid,
            source=src,
            session_id="s-cli",
            notebook_path=path,
            execution_count=seq,
            started_at=1.7e9 + seq,
            ended_at=1.7e9 + seq + 0.001,
            reads=frozenset(reads),
            binds=frozenset(binds),
        )

    workspace.service("provenance").record(
        [
            ex(1, "a", "n = 3", binds=["n"]),
            ex(2, "b", "m = n * 2", ["n"], ["m"]),
            ex(3, "c", "unused = 1", binds=["unused"]),
            ex(4, "a", "n = 4", binds=["n"]),
        ]
    )


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


# -- verify in CI: exit codes and one-line reasons (real kernels) ------------------------------
_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _write(tmp_path, *sources, kernelspec=_KERNELSPEC, name="ci.ipynb"):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src, id=f"c{i + 1}") for i, src in enumerate(sources)],
        metadata={"kernelspec": kernelspec} if kernelspec else {},
    )
    path = tmp_path / name
    nbformat.write(nb, path)
    return str(path)


def test_verify_fails_a_cell_that_raises_even_without_saved_output(workspace, tmp_path, capsys):
    path = _write(tmp_path, "x = 1", "1 / 0")
    assert main(["verify", path]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "cell 2           error: ZeroDivisionError: division by zero" in out


def test_verify_names_a_missing_kernel_in_one_line(workspace, tmp_path, capsys):
    path = _write(
        tmp_path, "1 + 1", kernelspec={"name": "nope", "display_name": "Nope", "language": "python"}
    )
    assert main(["verify", path]) == 1
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and "FAIL" in out and "no such kernel: 'nope'" in out
    assert main(["verify", path, "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["verdict"] == "fail" and body["stop"]["kind"] == "no_such_kernel"


def test_verify_without_kernelspec_uses_the_default_or_the_named_kernel(
    workspace, tmp_path, capsys
):
    path = _write(tmp_path, "x = 1", kernelspec=None)
    assert main(["verify", path]) == 0, capsys.readouterr().out
    assert "PASS" in capsys.readouterr().out
    assert main(["verify", path, "--kernel", "python3"]) == 0
    capsys.readouterr()
    assert main(["verify", path, "--kernel", "nope"]) == 1  # --kernel is what runs it
    assert "no such kernel: 'nope'" in capsys.readouterr().out


def test_verify_timeout_stops_a_hung_cell(workspace, tmp_path, capsys):
    path = _write(tmp_path, "x = 1", "import time\ntime.sleep(1000)", "y = 2")
    assert main(["verify", path, "--timeout", "3", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["stop"]["kind"] == "timeout" and body["stop"]["cell_id"] == "c2"
    assert [c["status"] for c in body["cells"]] == ["skipped", "error", "not_run"]
    assert main(["verify", path, "--timeout", "-1"]) == 2
    assert "--timeout" in capsys.readouterr().err


def test_check_names_a_malformed_log_in_one_line(workspace, tmp_path, capsys):
    for bad in (
        {"executions": [{"cell_id": "c1"}]},
        {"executions": [{"seq": "x"}]},
        {"executions": "all of them"},
    ):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", id="c1")])
        nb.metadata["jupyter_mlinfra"] = {"provenance": bad}
        path = tmp_path / "malformed.ipynb"
        nbformat.write(nb, path)
        assert main(["check", str(path)]) == 2
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert "\n" not in err and "Traceback" not in captured.err + captured.out
        assert err.startswith(
            "jupyter mlinfra check: error: the notebook's metadata "
            "jupyter_mlinfra.provenance is not a valid execution log"
        )
