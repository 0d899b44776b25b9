"""Replays that must not return a wrong value in silence, in-place cells and file dependencies
(issue 11, items 3, 4 and 5).

Each session runs its cells (with cell ids) in a real IPython shell with the recorder on. The
replay slice of the target (a name, or the last run of a cell) then runs in a fresh kernel, in a
new empty folder, and must give the live value; ``check`` and ``dependencies()`` must not call a
result clean when its replay would differ. All replays run in ONE kernel, each after ``%reset -f``
and a ``chdir`` to a new empty folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import nbformat
import pytest

from jupyter_mlinfra.core.provenance.analysis import analyze
from jupyter_mlinfra.core.provenance.model import NotebookCell
from jupyter_mlinfra.core.provenance.names import analyze_source
from jupyter_mlinfra.core.provenance.replay import (
    replay_for_name,
    replay_notebook,
    replay_slice,
    target_execution,
)
from jupyter_mlinfra.core.provenance.service import ProvenanceService
from tests.core.provenance.recorded import record_session


@dataclass
class Session:
    name: str
    runs: list[tuple[str, str]]  # (cell id, source) in execution order
    target: str | None = None  # a name; None: the last run of target_cell
    target_cell: str | None = None
    notebook: list[tuple[str, str]] | None = None  # default: each cell's last source, in order
    expect: dict = field(default_factory=dict)  # report keys -> expected value


NP = "import numpy as np"

SESSIONS = [
    # -- item 5: global random state ----------------------------------------------------------
    Session(
        "python_random_seed",
        [("c1", "import random"), ("c2", "random.seed(42)"), ("c3", "v = random.random()")],
        target="v",
        expect={"clean": True},
    ),
    Session(
        "numpy_legacy_seed",
        [
            ("c1", NP),
            ("c2", "np.random.seed(0)"),
            ("c3", "a = np.random.rand(3)"),
            ("c4", "b = float(np.random.rand())"),
        ],
        target="b",
        expect={"clean": True},
    ),
    Session(
        "seed_in_same_cell_as_imports_then_draw_via_from_import",
        [
            ("c1", "from random import randint, seed\nseed(7)"),
            ("c2", "first = randint(0, 10**9)"),
            ("c3", "second = randint(0, 10**9)"),
        ],
        target="second",
        expect={"clean": True},
    ),
    # -- item 5: calls that may mutate what they receive ---------------------------------------
    Session(
        "function_appends_to_its_argument",
        [
            ("c1", "L = [1]"),
            ("c2", "def add_item(lst, x):\n    lst.append(x)"),
            ("c3", "add_item(L, 2)"),
            ("c4", "total = sum(L)"),
        ],
        target="total",
        expect={"clean": True},
    ),
    Session(
        "method_changes_self",
        [
            (
                "c1",
                "class C:\n    def __init__(self):\n        self.n = 0\n"
                "    def inc(self):\n        self.n += 1",
            ),
            ("c2", "c = C()"),
            ("c3", "c.inc()"),
            ("c4", "k = c.n"),
        ],
        target="k",
        expect={"clean": True},
    ),
    Session(
        "next_on_an_iterator",
        [("c1", "it = iter([1, 2, 3])"), ("c2", "first = next(it)"), ("c3", "second = next(it)")],
        target="second",
        expect={"clean": True},
    ),
    Session(
        "for_loop_consumes_an_iterator",
        [
            ("c1", "gen = (i * i for i in range(5))"),
            ("c2", "for v in gen:\n    if v > 3:\n        break"),
            ("c3", "rest = list(gen)"),
        ],
        target="rest",
        expect={"clean": True},
    ),
    Session(
        "object_reached_through_a_container",
        [
            ("c1", "L = [1]"),
            ("c2", "d = {'a': L}"),
            ("c3", "L.append(2)"),
            ("c4", "m = len(d['a'])"),
        ],
        target="m",
        expect={"clean": True},
    ),
    Session(
        "container_mutated_through_its_element",
        [
            ("c1", "L = [1]"),
            ("c2", "d = {'a': L}"),
            ("c3", "d['a'].append(2)"),
            ("c4", "m2 = len(L)"),
        ],
        target="m2",
        expect={"clean": True},
    ),
    Session(
        "object_reached_through_an_attribute",
        [
            ("c1", "L = [1]"),
            ("c2", "class Box:\n    pass\nb = Box()\nb.items = L"),
            ("c3", "L.append(5)"),
            ("c4", "m3 = len(b.items)"),
        ],
        target="m3",
        expect={"clean": True},
    ),
    Session(
        "numpy_add_at",
        [
            ("c1", NP + "\na = np.zeros(3)"),
            ("c2", "np.add.at(a, [0, 0], 1)"),
            ("c3", "s = float(a.sum())"),
        ],
        target="s",
        expect={"clean": True},
    ),
    Session(
        "numpy_fill_diagonal",
        [
            ("c1", NP + "\nm = np.zeros((2, 2))"),
            ("c2", "np.fill_diagonal(m, 5)"),
            ("c3", "t = float(m.sum())"),
        ],
        target="t",
        expect={"clean": True},
    ),
    Session(
        "numpy_out_argument",
        [
            ("c1", NP + "\nu = np.ones(3)"),
            ("c2", "np.multiply(u, 2, out=u)"),
            ("c3", "w = float(u.sum())"),
        ],
        target="w",
        expect={"clean": True},
    ),
    Session(
        "operator_setitem",
        [
            ("c1", "import operator\nd = {}"),
            ("c2", "operator.setitem(d, 'k', 1)"),
            ("c3", "keys = sorted(d)"),
        ],
        target="keys",
        expect={"clean": True},
    ),
    Session(
        "unfollowed_exec_is_replayed_and_reported",
        [("c1", "L = [1]"), ("c2", "exec('L.append(2)')"), ("c3", "n = len(L)")],
        target="n",
        expect={"clean": False},
    ),
    # -- item 5: del ----------------------------------------------------------------------------
    Session(
        "replay_of_a_del_cell",
        [("c1", "x = 1"), ("c2", "y = x + 1"), ("c3", "del x")],
        target_cell="c3",
        expect={"clean": True},
    ),
    # -- item 3: cells that update a value in place ----------------------------------------------
    Session(
        "augmented_assignment_rerun",
        [("c1", "x = 0"), ("c2", "x += 5"), ("c3", "y = x * 2"), ("c2", "x += 5")],
        target="y",
        expect={"stale": ["c3"], "stale_direct": ["c3"]},
    ),
    Session(
        "append_in_a_loop_rerun",
        [
            ("c1", "acc = []"),
            ("c2", "for i in range(3):\n    acc.append(i)"),
            ("c2", "for i in range(3):\n    acc.append(i)"),
        ],
        target="acc",
        expect={"stale": [], "clean": True},
    ),
    Session(
        "append_loop_rerun_after_a_reader",
        [
            ("c1", "acc = []"),
            ("c2", "for i in range(3):\n    acc.append(i)"),
            ("c3", "n = len(acc)"),
            ("c2", "for i in range(3):\n    acc.append(i)"),
        ],
        target="n",
        expect={"stale": ["c3"]},
    ),
    Session(
        "dataframe_drop_inplace_rerun",
        [
            ("c1", "import pandas as pd\ndf = pd.DataFrame({'a': [1], 'b': [2], 'c': [3]})"),
            ("c2", "df.drop(columns=[df.columns[-1]], inplace=True)"),
            ("c3", "ncols = df.shape[1]"),
            ("c2", "df.drop(columns=[df.columns[-1]], inplace=True)"),
        ],
        target="ncols",
        expect={"stale": ["c3"]},
    ),
    Session(
        "model_fit_rerun",
        [
            (
                "c1",
                NP + "\nfrom sklearn.linear_model import LinearRegression\n"
                "X = np.arange(6.).reshape(-1, 1)\ny = 2 * X.ravel()\n"
                "model = LinearRegression()",
            ),
            ("c2", "model.fit(X, y)"),
            ("c3", "coef = round(float(model.coef_[0]), 6)"),
            ("c2", "model.fit(X, y)"),
        ],
        target="coef",
        expect={"stale": ["c3"]},
    ),
    # -- item 4: files written by one cell and read by another ---------------------------------
    Session(
        "file_written_by_a_shell_escape_then_read",
        [
            ("c1", "!printf 'a,b\\n1,2\\n3,4\\n' > tiny.csv"),
            ("c2", "import pandas as pd"),
            ("c3", "t = pd.read_csv('tiny.csv')\nv = int(t['b'].sum())"),
        ],
        target="v",
        expect={"clean": True},
    ),
    # (imports in a cell of their own: the writer shares no name with the reader)
    Session(
        "file_csv_written_then_read",
        [
            ("c0", "import pandas as pd"),
            ("c1", "pd.DataFrame({'a': [1, 2]}).to_csv('data.csv', index=False)"),
            ("c2", "df = pd.read_csv('data.csv')"),
            ("c3", "total = int(df['a'].sum())"),
        ],
        target="total",
        expect={"clean": True},
    ),
    Session(
        "file_open_with_a_path_held_by_a_name",
        [
            ("c0", "path = 'notes.txt'"),
            ("c1", "with open(path, 'w') as out:\n    out.write('hi')"),
            ("c2", "with open(path) as f:\n    text = f.read()"),
        ],
        target="text",
        expect={"clean": True},
    ),
    Session(
        "file_pathlib_write_text_read_text",
        [
            ("c0", "from pathlib import Path"),
            ("c1", "Path('p.txt').write_text('x' * 3)"),
            ("c2", "content = Path('p.txt').read_text()"),
        ],
        target="content",
        expect={"clean": True},
    ),
    Session(
        "file_numpy_save_load",
        [
            ("c0", NP),
            ("c1", "np.save('arr', np.arange(4))"),
            ("c2", "arr = np.load('arr.npy')"),
            ("c3", "asum = int(arr.sum())"),
        ],
        target="asum",
        expect={"clean": True},
    ),
    Session(
        "file_joblib_dump_load",
        [
            ("c0", "import joblib"),
            ("c1", "joblib.dump({'k': 1}, 'm.joblib')"),
            ("c2", "obj = joblib.load('m.joblib')"),
        ],
        target="obj",
        expect={"clean": True},
    ),
    Session(
        "file_pickle_through_open",
        [
            ("c0", "import pickle"),
            ("c1", "with open('o.pkl', 'wb') as out:\n    pickle.dump([1, 2], out)"),
            ("c2", "with open('o.pkl', 'rb') as fh:\n    lst = pickle.load(fh)"),
        ],
        target="lst",
        expect={"clean": True},
    ),
    Session(
        "file_rewritten_makes_its_reader_stale",
        [
            ("c1", "with open('v.txt', 'w') as f:\n    f.write('1')"),
            ("c2", "with open('v.txt') as f:\n    v = f.read()"),
            ("c1", "with open('v.txt', 'w') as f:\n    f.write('22')"),
        ],
        target="v",
        expect={"stale": ["c2"]},
    ),
    # -- item 5: an edited star import ----------------------------------------------------------
    Session(
        "edited_star_import",
        [("c1", "from math import *"), ("c2", "r = sqrt(16)")],
        notebook=[("c1", "from math import *  # for sqrt"), ("c2", "r = sqrt(16)")],
        target="r",
        expect={"hidden_state": [], "hidden_state_cells": [], "code_changed": ["c1"]},
    ),
]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()
    results = {}
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("sessions"))  # the files the sessions write go there
    try:
        _run_sessions(shell, results)
    finally:
        os.chdir(here)
    shell.reset(new_session=False)
    return results


def _run_sessions(shell, results):
    for s in SESSIONS:
        log, live = record_session(shell, s.name, s.runs)
        if s.notebook is not None:
            cells = [NotebookCell(id=cid, source=src) for cid, src in s.notebook]
        else:
            last = {cid: src for cid, src in s.runs}
            cells = [NotebookCell(id=cid, source=src) for cid, src in last.items()]
        report = analyze(log.executions, cells, live_names=live)
        if s.target is not None:
            slice_ = replay_for_name(log.executions, s.target)
            deps = ProvenanceService(None).dependencies(name=s.target, log=log, live_names=live)
            value = repr(shell.user_ns[s.target])
        else:
            slice_ = replay_slice(log.executions, target_execution(log.executions, s.target_cell))
            deps = ProvenanceService(None).dependencies(
                cell_id=s.target_cell, log=log, live_names=live
            )
            value = None
        results[s.name] = {
            "report": report,
            "log": log,
            "slice": slice_,
            "deps": deps,
            "value": value,
        }


@pytest.fixture(scope="module")
def replayed(sessions, tmp_path_factory):
    """Each session's replay slice run in one fresh kernel: name -> (repr of the target's
    value, or the error the replay raised)."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    blocks = []
    for i, s in enumerate(SESSIONS):
        nb.cells.append(
            nbformat.v4.new_code_cell(
                "%reset -f\nimport os as _os, tempfile as _tf\n_os.chdir(_tf.mkdtemp())"
            )
        )
        start = len(nb.cells)
        nb.cells.extend(
            c for c in replay_notebook(sessions[s.name]["slice"]).cells if c.cell_type == "code"
        )
        blocks.append((s.name, start, len(nb.cells)))
        shown = f"repr({s.target})" if s.target else "'ok'"
        nb.cells.append(nbformat.v4.new_code_cell(f"print('@@', {i}, {shown}, sep='\\t')"))
    folder = tmp_path_factory.mktemp("replays")
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    got = {}
    for cell in nb.cells:
        # one print can arrive as several stream messages (the kernel flushes on a timer)
        text = "".join(out.get("text", "") for out in cell.get("outputs", []))
        for line in text.splitlines():
            if line.startswith("@@\t"):
                _, idx, value = line.split("\t", 2)
                got[SESSIONS[int(idx)].name] = value
    for name, start, end in blocks:
        errors = [
            o.get("ename")
            for c in nb.cells[start:end]
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        if errors:
            got[name] = f"error: {errors[0]}"
    return got


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.name)
def test_replay_reproduces_the_live_value(session, sessions, replayed):
    result = sessions[session.name]
    expected = result["value"] if session.target else "ok"
    assert replayed[session.name] == expected, [e.source for e in result["slice"]]


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.name)
def test_check_and_dependencies(session, sessions):
    result = sessions[session.name]
    report = result["report"].to_dict()
    for key, expected in session.expect.items():
        assert report[key] == expected, (key, report[key], report["explanations"])


def test_in_place_cell_is_not_stale_after_its_own_rerun(sessions):
    for name in (
        "augmented_assignment_rerun",
        "append_in_a_loop_rerun",
        "append_loop_rerun_after_a_reader",
        "dataframe_drop_inplace_rerun",
        "model_fit_rerun",
    ):
        report = sessions[name]["report"]
        assert "c2" not in report.stale, (name, report.to_text())
    messages = [f.message for f in sessions["augmented_assignment_rerun"]["report"].explanations]
    assert any(m.startswith("cell 3 is stale: it read `x`, which cell 2") for m in messages)


def test_unfollowed_code_is_reported(sessions):
    result = sessions["unfollowed_exec_is_replayed_and_reported"]
    kinds = {f.kind for f in result["report"].explanations}
    assert "unfollowed" in kinds
    assert result["deps"]["clean"] is False
    assert any(h["kind"] == "unfollowed" for h in result["deps"]["hazards"])


def test_seeding_cell_is_in_the_slice(sessions):
    assert [e.cell_id for e in sessions["numpy_legacy_seed"]["slice"]] == ["c1", "c2", "c3", "c4"]
    assert [e.cell_id for e in sessions["python_random_seed"]["slice"]] == ["c1", "c2", "c3"]


def test_known_pure_calls_do_not_mutate_and_unknown_calls_may():
    e = analyze_source(
        "import numpy as np\nprint(x)\nn = len(x)\nm = np.mean(a)\nh = df.head()\nv = cfg.get('k')"
    )
    assert e.mutates == set()
    e = analyze_source("process(x)\nobj.tweak()\nnp.fill_diagonal(m, 0)", modules={"np": "numpy"})
    assert e.mutates == {"x", "obj", "m"}
    assert e.assumed == {"x", "obj"}  # np.fill_diagonal is a known mutator
    assert "np" not in e.mutates  # a module is not changed by calling its functions
    assert "<rng:numpy>" in analyze_source("np.random.seed(0)", modules={"np": "numpy"}).binds
    e = analyze_source("r = np.random.rand()", modules={"np": "numpy"})
    assert "<rng:numpy>" in e.reads and "<rng:numpy>" in e.mutates
    e = analyze_source("exec(code)")
    assert e.unfollowed


def test_a_rewritten_file_is_named_in_the_explanation(sessions):
    messages = [
        f.message for f in sessions["file_rewritten_makes_its_reader_stale"]["report"].explanations
    ]
    assert any(
        m.startswith("cell 2 is stale: it read the file `")
        and "v.txt" in m
        and "which cell 1 wrote after cell 2 ran" in m
        for m in messages
    ), messages
    log = sessions["file_csv_written_then_read"]["log"]
    (path,) = [p for p in log.executions[2].files]  # the fingerprint recorded at read time
    assert path.endswith("data.csv") and os.path.isabs(path)
    assert log.executions[2].files[path][0] == os.path.getsize(path)


def test_a_file_changed_outside_the_kernel_makes_its_readers_stale(tmp_path, monkeypatch):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    monkeypatch.chdir(tmp_path)
    shell = start_ipython() or get_ipython()
    runs = [
        ("c1", "with open('in.txt', 'w') as f:\n    f.write('a')"),
        ("c2", "with open('in.txt') as f:\n    got = f.read()"),
    ]
    log, _live = record_session(shell, "outside", runs)
    shell.reset(new_session=False)
    cells = [NotebookCell(id=cid, source=src) for cid, src in runs]
    assert analyze(log.executions, cells).clean
    (tmp_path / "in.txt").write_text("changed by another program")
    report = analyze(log.executions, cells)
    assert report.stale_direct == ["c2"]
    message = report.explanations[0].message
    assert "in.txt" in message and "changed on disk" in message


def test_file_paths_in_function_bodies():
    e = analyze_source(
        "def save(df, path):\n    df.to_csv(path)\n"
        "def load():\n    return pd.read_csv(src)\n"
        "def keep():\n    np.save('cache', x)",
        modules={"np": "numpy"},
    )
    assert e.deferred_reads["save"] == set()  # the path is a parameter: not a global
    assert "<file?:src|>" in e.deferred_reads["load"]  # the kernel resolves `src` at the call
    assert e.deferred_mutates["keep"] == {"<file:cache.npy>"}  # numpy adds the suffix


def test_dependencies_say_why_a_replay_keeps_a_call_it_cannot_see_into(sessions):
    deps = sessions["function_appends_to_its_argument"]["deps"]
    assert deps["clean"] is True
    notes = [h for h in deps["hazards"] if h["kind"] == "assumed"]
    assert [(h["cell_id"], h["names"]) for h in notes] == [("c3", ["L"])]
    assert "may have changed it" in notes[0]["message"]
