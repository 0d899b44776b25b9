"""The shared runner: papermill with cell ids, a silent set-up, progress and warm kernels."""

from __future__ import annotations

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_mlinfra.core.errors import InvalidInput, NotFound
from jupyter_mlinfra.core.notebook_execution import execute_notebook


def _python3(*cells) -> nbformat.NotebookNode:
    """A notebook of these cells for the python3 kernel."""
    return new_notebook(
        cells=list(cells),
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def _notebook() -> nbformat.NotebookNode:
    params = new_code_cell("n = 2", id="params-cell")
    params.metadata["tags"] = ["parameters"]
    return _python3(
        params,
        new_markdown_cell("# doubling", id="md"),
        new_code_cell(
            "import os\nprint(n * 2, os.environ['DEMO_FLAG'], os.getcwd())", id="c-double"
        ),
        new_code_cell("print(get_ipython().execution_count, _ci)", id="c-id"),
    )


CAPTURE_IDS = (
    "_ci = None\n"
    "def _grab(info):\n"
    "    global _ci\n"
    "    _ci = info.cell_id\n"
    "get_ipython().events.register('pre_run_cell', _grab)\n"
)


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


def test_parameters_env_cwd_cell_ids_and_progress(tmp_path, mlinfra_env):
    nb = _notebook()
    nb.cells.insert(0, new_code_cell(CAPTURE_IDS, id="c-capture"))
    seen = []
    out = execute_notebook(
        nb,
        tmp_path / "out.ipynb",
        parameters={"n": 21},
        env={"DEMO_FLAG": "on"},
        cwd=tmp_path,
        record_provenance=False,
        on_cell=seen.append,
    )
    double = next(c for c in out.cells if c.get("id") == "c-double")
    assert _stdout(double).split() == ["42", "on", str(tmp_path)]
    # The kernel saw the notebook's own cell id for the cell it ran.
    assert _stdout(out.cells[-1]).split()[1] == "c-id"
    # Progress: one report per code cell (the injected parameters cell included), all ok.
    assert [p.status for p in seen] == ["ok"] * len(seen)
    assert seen[-1].executed == seen[-1].code_cells == len(seen)
    assert (tmp_path / "out.ipynb").is_file()


def test_failing_cell_raises_and_reports_error(tmp_path, mlinfra_env):
    import papermill

    nb = _python3(
        new_code_cell("x = 1", id="a"),
        new_code_cell("raise ValueError('boom')", id="b"),
        new_code_cell("y = 2", id="c"),
    )
    seen = []
    with pytest.raises(papermill.PapermillExecutionError) as err:
        execute_notebook(nb, tmp_path / "out.ipynb", record_provenance=False, on_cell=seen.append)
    assert err.value.ename == "ValueError"
    assert [(p.cell_id, p.status) for p in seen] == [("a", "ok"), ("b", "error")]
    saved = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in saved.cells for o in c.get("outputs", []))


def test_kernel_that_dies_mid_cell_reports_error(tmp_path, mlinfra_env):
    from nbclient.exceptions import DeadKernelError

    nb = _python3(
        new_code_cell("x = 1", id="a"),
        new_code_cell("import os\nos._exit(3)", id="dies"),
        new_code_cell("y = 2", id="never"),
    )
    seen = []
    with pytest.raises(DeadKernelError):
        execute_notebook(nb, tmp_path / "out.ipynb", record_provenance=False, on_cell=seen.append)
    assert [(p.cell_id, p.status) for p in seen] == [("a", "ok"), ("dies", "error")]


def test_runs_in_a_prestarted_kernel(tmp_path, mlinfra_env):
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    try:
        nb = _python3(new_code_cell("import os\nprint(os.getpid())", id="pid"))
        out = execute_notebook(nb, None, kernel_manager=km, record_provenance=False)
        assert _stdout(out.cells[0]).strip() == str(km.provisioner.process.pid)
        assert km.is_alive()  # the caller owns the kernel: it stays up for reuse
    finally:
        km.shutdown_kernel(now=True)


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(NotFound):
        execute_notebook(tmp_path / "missing.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(InvalidInput):
        execute_notebook(bad)


def test_notebooks_own_load_ext_stays_quiet_when_recording(tmp_path, mlinfra_env):
    nb = _python3(
        new_code_cell("%load_ext jupyter_mlinfra", id="load"), new_code_cell("x = 1", id="x")
    )
    out = execute_notebook(nb, None, notebook_path="quiet.ipynb", record_provenance=True)
    assert out.cells[0].outputs == []  # no "extension is already loaded" banner
