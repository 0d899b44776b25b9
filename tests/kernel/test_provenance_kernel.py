"""The recorder in real kernels: batch runs through the shared runner, and the magics."""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_mlinfra.core.notebook_execution import execute_notebook
from jupyter_mlinfra.core.provenance.model import log_from_notebook


def test_runner_records_history_under_the_notebook_path(tmp_path, workspace):
    nb = new_notebook(cells=[
        new_markdown_cell("# a batch run", id="intro"),
        new_code_cell("items = [1, 2]", id="load"),
        new_code_cell("%time items.append(3)", id="grow"),
        new_code_cell("total = sum(items)\nprint(total)", id="sum"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    logical = "/projects/demo/batch.ipynb"
    execute_notebook(nb, tmp_path / "out.ipynb", notebook_path=logical,
                     record_provenance=True)
    svc = workspace.service("provenance")
    log = svc.history(logical)
    assert [e.cell_id for e in log.executions] == ["load", "grow", "sum"]
    assert [e.seq for e in log.executions] == [1, 2, 3]
    assert all(e.notebook_path == logical and e.status == "ok" for e in log.executions)
    assert log.executions[1].source == "%time items.append(3)"
    assert log.executions[1].mutates == {"items"}  # seen through IPython's magic transform
    assert log.executions[2].reads == {"items"} and log.executions[2].binds == {"total"}
    assert log.session_id and all(e.session_id == log.session_id for e in log.executions)
    report = svc.check(logical, cells=None)
    assert report.clean, report.to_text()
    # the replay of the last cell is the whole chain
    slice_, _nb = svc.replay(logical)
    assert [e.cell_id for e in slice_] == ["load", "grow", "sum"]
    # the output notebook can carry the run's log (what jobs keep with each run)
    svc.attach_run_log(tmp_path / "out.ipynb", logical)
    carried = log_from_notebook(nbformat.read(tmp_path / "out.ipynb", as_version=4))
    assert carried.session_id == log.session_id and len(carried.executions) == 3


def test_magics_history_check_replay(ip, tmp_path, capsys):
    from jupyter_mlinfra.kernel.provenance_recorder import get_recorder

    rec = get_recorder()
    rec._explicit_path = str(tmp_path / "live.ipynb")
    ip.run_cell("base = 3", cell_id="m1")
    ip.run_cell("scaled = base * 2", cell_id="m2")
    ip.run_cell("base = 4", cell_id="m1")
    capsys.readouterr()
    ip.run_line_magic("mlinfra", "check --json")
    report = json.loads(capsys.readouterr().out)
    assert report["stale_direct"] == ["m2"]
    assert "cell 2 is stale: it read `base`" in report["explanations"][0]["message"]
    ip.run_line_magic("mlinfra", "history")
    out = capsys.readouterr().out
    assert "scaled" in out and "SEQ" in out
    target = tmp_path / "replay.ipynb"
    ip.run_line_magic("mlinfra", f"replay --cell m2 {target}")
    replay = nbformat.read(target, as_version=4)
    code = [c for c in replay.cells if c.cell_type == "code"]
    assert [c.source for c in code] == ["base = 3", "scaled = base * 2"]
    assert code[1].metadata["jupyter_mlinfra"]["origin"]["cell_id"] == "m2"
    # the Python API sees the same in-kernel history, and what a model store would ask for
    from jupyter_mlinfra import provenance

    deps = provenance.dependencies(name="scaled")
    assert [e["cell_id"] for e in deps["replay"]] == ["m1", "m2"]
    assert deps["clean"] is False
    assert any(h["kind"] == "stale_direct" for h in deps["hazards"])
