"""Verify on real kernels: a run that failed never passes, and the verdict says why and where
(a failing cell with no saved output, a dead kernel, sys.exit, a UsageError, a timeout);
nbclient's and nbval's cell markers; the comparison of numbers, figures and streams; and the
output notebook written once, not after every cell."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from jupyter_mlinfra.core.provenance.verify import (
    VerifyOptions,
    outputs_text,
    run_and_compare,
    texts_match,
)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _nb(*cells, kernelspec=True):
    return new_notebook(
        cells=list(cells), metadata={"kernelspec": KERNELSPEC} if kernelspec else {}
    )


def _cell(source, cid, *outputs, count=None, tags=None):
    """A code cell as saved: with outputs it was run (execution count 1 unless given)."""
    if outputs and count is None:
        count = 1
    return new_code_cell(
        source,
        id=cid,
        execution_count=count,
        outputs=list(outputs),
        metadata={"tags": tags} if tags else {},
    )


def _out(text, name="stdout"):
    return new_output("stream", name=name, text=text)


def _verify(workspace, tmp_path, nb, **kwargs):
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    kwargs.setdefault("record_provenance", False)
    return workspace.service("provenance").verify(str(path), **kwargs)


def _statuses(result):
    return {c.cell_id: c.status for c in result.cells}


# -- a failed run never passes ------------------------------------------------------------------
def test_a_failing_cell_with_no_saved_output_fails(workspace, tmp_path):
    result = _verify(workspace, tmp_path, _nb(_cell("x = 1", "ok"), _cell("1 / 0", "boom")))
    assert not result.ok and result.verdict == "fail", result.to_text()
    assert _statuses(result) == {"ok": "skipped", "boom": "error"}
    assert result.stop["kind"] == "error" and result.stop["cell_id"] == "boom"
    assert "ZeroDivisionError: division by zero" in result.to_text()


def test_a_last_cell_that_kills_the_kernel_fails_as_kernel_died(workspace, tmp_path):
    result = _verify(
        workspace,
        tmp_path,
        _nb(_cell("print('hi')", "first", _out("hi\n")), _cell("import os\nos._exit(1)", "killer")),
    )
    assert not result.ok, result.to_text()
    assert result.stop["kind"] == "kernel_died" and result.stop["cell_id"] == "killer"
    assert _statuses(result) == {"first": "match", "killer": "error"}
    assert "cell 2           error: the kernel died" in result.to_text()


def test_sys_exit_and_a_usage_error_are_reported_with_their_cell(workspace, tmp_path):
    result = _verify(
        workspace,
        tmp_path,
        _nb(_cell("import sys\nsys.exit(3)", "leaves"), _cell("print('never')", "after")),
    )
    assert not result.ok
    assert result.stop["kind"] == "sys_exit" and result.stop["cell_id"] == "leaves"
    assert "sys.exit(3)" in result.run_error
    assert _statuses(result) == {"leaves": "error", "after": "not_run"}

    # a magic's UsageError is printed on stderr, with no error output: still a failure
    result = _verify(workspace, tmp_path, _nb(_cell("%load_ext", "magic")))
    assert not result.ok, result.to_text()
    assert result.stop["kind"] == "usage_error" and result.stop["cell_id"] == "magic"
    assert result.run_error.startswith("UsageError: ")


def test_a_hung_cell_times_out_and_the_run_ends(workspace, tmp_path):
    result = _verify(
        workspace,
        tmp_path,
        _nb(
            _cell("print('a')", "a", _out("a\n")),
            _cell("import time\ntime.sleep(1000)", "hung"),
            _cell("print('b')", "b", _out("b\n")),
        ),
        timeout=3,
    )
    assert not result.ok
    assert result.stop["kind"] == "timeout" and result.stop["cell_id"] == "hung"
    assert _statuses(result) == {"a": "match", "hung": "error", "b": "not_run"}
    assert "timed out after 3 s" in result.to_text()


def test_the_default_timeout_comes_from_the_settings(mlinfra_env, tmp_path, monkeypatch):
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_VERIFY_TIMEOUT_SECONDS", "2")
    ws = Workspace.open()
    try:
        result = _verify(ws, tmp_path, _nb(_cell("import time\ntime.sleep(1000)", "hung")))
    finally:
        ws.close()
    assert result.stop["kind"] == "timeout" and "after 2 s" in result.run_error


# -- kernels ----------------------------------------------------------------------------------
def test_no_kernelspec_runs_on_the_default_kernel(workspace, tmp_path):
    nb = _nb(_cell("print(6 * 7)", "answer", _out("42\n")), kernelspec=False)
    result = _verify(workspace, tmp_path, nb)
    assert result.ok, result.to_text()
    # --kernel is honoured (here: a kernel that does not exist)
    result = _verify(workspace, tmp_path, nb, kernel_name="nope")
    assert not result.ok and result.stop["kind"] == "no_such_kernel"
    assert result.to_text().count("\n") == 0 and "no such kernel: 'nope'" in result.to_text()


# -- markers ----------------------------------------------------------------------------------
def test_skip_execution_and_nbval_markers(workspace, tmp_path):
    nb = _nb(
        _cell("raise RuntimeError('not in CI')", "nbclient-skip", tags=["skip-execution"]),
        _cell("# NBVAL_SKIP\nraise RuntimeError('not in CI')", "nbval-skip"),
        _cell(
            "# NBVAL_IGNORE_OUTPUT\nimport random\nprint(random.random())",
            "ignored",
            _out("0.123\n"),
        ),
        _cell("# NBVAL_RAISES_EXCEPTION\nraise ValueError('expected')", "raises"),
        _cell("print('after')", "after", _out("after\n")),
    )
    result = _verify(workspace, tmp_path, nb)
    assert result.ok, result.to_text()
    assert _statuses(result) == {
        "nbclient-skip": "skipped",
        "nbval-skip": "skipped",
        "ignored": "skipped",
        "raises": "skipped",
        "after": "match",
    }
    reasons = {c.cell_id: c.reason for c in result.cells}
    assert "skip-execution" in reasons["nbclient-skip"]
    assert "NBVAL_IGNORE_OUTPUT" in reasons["ignored"]


def test_nbval_check_output_in_lax_and_strict_mode(workspace, tmp_path):
    cells = [
        _cell("print(2)", "unmarked", _out("3\n")),
        _cell("# NBVAL_CHECK_OUTPUT\nprint('checked')", "checked", _out("checked\n")),
    ]
    lax = VerifyOptions(lax=True)
    result = _verify(workspace, tmp_path, _nb(*cells), options=lax)
    assert result.ok, result.to_text()  # lax: only the marked cell is compared
    assert _statuses(result) == {"unmarked": "skipped", "checked": "match"}
    cells[1] = _cell("# NBVAL_CHECK_OUTPUT\nprint('checked')", "checked", _out("changed\n"))
    result = _verify(workspace, tmp_path, _nb(*cells), options=lax)
    assert _statuses(result)["checked"] == "mismatch"
    # strict: a marked cell saved without output is compared too (it now prints something)
    result = _verify(
        workspace, tmp_path, _nb(_cell("# NBVAL_CHECK_OUTPUT\nprint('new')", "never-saved"))
    )
    assert _statuses(result) == {"never-saved": "mismatch"}


# -- comparison -------------------------------------------------------------------------------
def test_numpy_padding_figures_and_streams(workspace, tmp_path):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="
    figure = new_output(
        "display_data", data={"image/png": png, "text/plain": "<Figure size 100x100 with 1 Axes>"}
    )
    nb = _nb(
        _cell(
            "import numpy as np\nnp.array([1.0000001, 2.5])",
            "array",
            new_output(
                "execute_result", data={"text/plain": "array([1. , 2.5])"}, execution_count=1
            ),
        ),
        _cell(
            "import numpy as np\nprint(np.array([[1.0000001, 2.5], [10, 3]]))",
            "matrix",
            _out("[[ 1.   2.5]\n [10.   3. ]]\n"),
        ),
        _cell(
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\n"
            "plt.show()",
            "figure",
            figure,
        ),
        _cell(
            "import sys\nprint('a', flush=True)\nsys.stderr.write('e\\n')\nprint('b')",
            "streams",
            _out("a\n"),
            _out("e\n", "stderr"),
            _out("b\n"),
        ),
        _cell(
            "import sys\nprint('a', flush=True)\nsys.stderr.write('e\\n')\nprint('b')",
            "changed-line",
            _out("a\n"),
            _out("e\n", "stderr"),
            _out("c\n"),
        ),
    )
    result = _verify(workspace, tmp_path, nb)
    assert _statuses(result) == {
        "array": "match",
        "matrix": "match",
        "figure": "match",
        "streams": "match",
        "changed-line": "mismatch",
    }, result.to_text()
    changed = next(c for c in result.cells if c.cell_id == "changed-line")
    assert "-c" in changed.diff and "+b" in changed.diff
    # a figure that now comes out as text only (no inline backend): not the same output
    result = _verify(
        workspace,
        tmp_path,
        _nb(
            _cell(
                "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
                "fig, ax = plt.subplots()\nax.plot([1, 2])\nfig",
                "became-text",
                figure,
            )
        ),
    )
    assert _statuses(result) == {"became-text": "mismatch"}, result.to_text()


def test_comparison_rules_without_a_kernel():
    opts = VerifyOptions()
    assert texts_match("array([1.        , 2.5       ])", "array([1.0000001, 2.5      ])", opts)
    assert not texts_match("array([1. , 2.5])", "array([1.1, 2.5])", opts)
    assert not texts_match("loss is 3", "lossis 3", opts)
    a = [_out("a\n"), _out("e\n", "stderr"), _out("b\n")]
    b = [_out("a\nb\n"), _out("e\n", "stderr")]
    assert outputs_text(a) == outputs_text(b) == "[stdout]\na\nb\n[stderr]\ne"
    fig = new_output("display_data", data={"image/png": "AAA", "text/plain": "<Figure>"})
    assert outputs_text([fig]) == "[display] image/png, text/plain"


# -- cost ---------------------------------------------------------------------------------------
def test_the_output_notebook_is_written_once_not_after_every_cell(
    tmp_path, mlinfra_env, monkeypatch
):
    """papermill's per-cell save re-serialises the whole notebook after each cell (quadratic:
    63 s for 400 cells); verify writes it once, at the end."""
    writes = []
    real_writes = nbformat.writes

    def counting_writes(nb, *args, **kwargs):
        writes.append(len(nb.cells))
        return real_writes(nb, *args, **kwargs)

    monkeypatch.setattr(nbformat, "writes", counting_writes)
    nb = _nb(*[_cell(f"print({i})", f"c{i}", _out(f"{i}\n")) for i in range(30)])
    out = tmp_path / "verified.ipynb"
    result = run_and_compare(nb, name="many", output_path=out, record_provenance=False)
    assert result.ok, result.to_text()
    assert len(writes) <= 2, f"{len(writes)} writes of the notebook for 30 cells"
    executed = nbformat.read(out, as_version=4)
    assert ["".join(o["text"] for o in c.outputs) for c in executed.cells] == [
        f"{i}\n" for i in range(30)
    ]


@pytest.mark.parametrize("stopper", ["import os\nos._exit(1)", "1 / 0"])
def test_the_output_notebook_is_written_when_the_run_stops(tmp_path, mlinfra_env, stopper):
    nb = _nb(_cell("print('kept')", "kept", _out("kept\n")), _cell(stopper, "stop"))
    out = tmp_path / "verified.ipynb"
    result = run_and_compare(nb, name="stops", output_path=out, record_provenance=False)
    assert not result.ok
    executed = nbformat.read(out, as_version=4)
    kept = next(c for c in executed.cells if c.get("id") == "kept")
    assert "".join(o["text"] for o in kept.outputs) == "kept\n"
