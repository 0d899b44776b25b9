"""The recorder in real kernels: batch runs through the shared runner, and the magics."""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_mlinfra.core.notebook_execution import execute_notebook
from jupyter_mlinfra.core.provenance.model import log_from_notebook


def test_runner_records_history_under_the_notebook_path(tmp_path, workspace):
    nb = new_notebook(
        cells=[
            new_markdown_cell("# a batch run", id="intro"),
            new_code_cell("items = [1, 2]", id="load"),
            new_code_cell("%time items.append(3)", id="grow"),
            new_code_cell("total = sum(items)\nprint(total)", id="sum"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    logical = "/projects/demo/batch.ipynb"
    execute_notebook(nb, tmp_path / "out.ipynb", notebook_path=logical, record_provenance=True)
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


# -- kernel lifetimes: a restart is a new session ----------------------------------------------
class _Kernel:
    """A real kernel through jupyter_client, executing cells with JupyterLab's cell ids."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        import os
        import uuid

        from jupyter_client import KernelManager

        # named as Jupyter Server names it: kernel-<kernel id>.json
        kernel_id = str(uuid.uuid4())
        self.km = KernelManager(
            kernel_name="python3",
            kernel_id=kernel_id,
            connection_file=os.path.join(cwd, f"kernel-{kernel_id}.json"),
        )
        self.km.start_kernel(env=env, cwd=cwd)
        self._connect()

    def _connect(self) -> None:
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, cell_id: str | None = None, expressions: dict | None = None):
        """Execute like JupyterLab does (cell id in the metadata); the reply's content."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": expressions or {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        msg = self.kc.session.msg(
            "execute_request", content, metadata={"cellId": cell_id} if cell_id else {}
        )
        self.kc.shell_channel.send(msg)
        stdout = []
        while True:
            out = self.kc.get_iopub_msg(timeout=60)
            if out["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            if out["msg_type"] == "stream":
                stdout.append(out["content"]["text"])
            if out["msg_type"] == "status" and out["content"]["execution_state"] == "idle":
                break
        reply = self.kc.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        reply["content"]["stdout"] = "".join(stdout)
        return reply["content"]

    def restart(self) -> None:
        self.kc.stop_channels()
        self.km.restart_kernel(now=False)
        self._connect()

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


def _kernel_env(tmp_path, home, notebook: str) -> dict[str, str]:
    import os
    import sys
    from pathlib import Path

    env = dict(os.environ)
    env.update(
        MLINFRA_HOME=str(home),
        JPY_SESSION_NAME=notebook,
        IPYTHONDIR=str(tmp_path / "ipython"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    )
    return env


def test_restart_starts_a_new_session_from_its_first_execution(
    tmp_path, workspace, mlinfra_env, wait_until
):
    notebook = str(tmp_path / "restart.ipynb")
    svc = workspace.service("provenance")
    kernel = _Kernel(_kernel_env(tmp_path, mlinfra_env, notebook), str(tmp_path))
    try:
        kernel.run("%load_ext jupyter_mlinfra", "load")
        kernel.run("a = 1", "c1")
        kernel.run("b = a + 1", "c2")
        kernel.run("a = 5", "c1")  # c2 is now stale in this first lifetime
        kernel_id = kernel.km.kernel_id
        first = wait_until(lambda: [s for s in svc.kernel_sessions(kernel_id)], "a session")
        old_session = first[0]["session_id"]
        wait_until(
            lambda: len(getattr(svc.stored_log(notebook, old_session), "executions", ())) == 3,
            "the first lifetime's three executions",
        )
        assert svc.check(notebook, session_id=old_session).stale == ["c2"]

        kernel.restart()  # Kernel > Restart: same kernel id, new process
        assert kernel.km.kernel_id == kernel_id
        # the restarted kernel registers its session as soon as recording starts, before
        # any of its cells has run
        kernel.run("%load_ext jupyter_mlinfra", "load")
        sessions = wait_until(
            lambda: [s for s in svc.kernel_sessions(kernel_id) if s["session_id"] != old_session],
            "the new session",
        )
        new_session = sessions[0]["session_id"]
        kernel.run("x = 1", "c3")  # the very first executions after the restart
        kernel.run("y = x + 1", "c4")
        log = wait_until(
            lambda: (lambda lg: lg if lg and len(lg.executions) == 2 else None)(
                svc.stored_log(notebook, new_session)
            ),
            "the new session's two executions",
        )
        assert [(e.seq, e.cell_id) for e in log.executions] == [(1, "c3"), (2, "c4")]
        # nothing merged into (or lost from) the first lifetime
        old = svc.history(notebook, session_id=old_session)
        assert [e.cell_id for e in old.executions] == ["c1", "c2", "c1"]
        # the notebook's latest session is the new one; it has no hazard of the old one
        assert svc.history(notebook).session_id == new_session
        report = svc.check(notebook)
        assert report.clean and not report.out_of_order, report.to_text()
        listed = [s["session_id"] for s in svc.sessions(notebook)]
        assert listed == [new_session, old_session]
        # the new kernel's own check agrees (its in-memory history is the new session)
        out = kernel.run("%mlinfra check --json", "check")["stdout"]
        assert json.loads(out)["session_id"] == new_session
        assert json.loads(out)["clean"] is True
    finally:
        kernel.shutdown()


def test_enable_recording_records_from_the_first_cell_and_disable_undoes_it(
    tmp_path, workspace, mlinfra_env, monkeypatch, capsys, wait_until
):
    from jupyter_mlinfra.cli.main import main

    ipython_dir = tmp_path / "ipython"
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    config = ipython_dir / "profile_default" / "ipython_kernel_config.py"
    config.parent.mkdir(parents=True)
    mine = "c.InteractiveShell.ast_node_interactivity = 'last_expr'\n"
    config.write_text(mine)
    assert main(["enable-recording", "--user"]) == 0
    assert main(["enable-recording", "--user"]) == 0  # idempotent: one block
    assert config.read_text().count("enable-recording >>>") == 1
    assert "already enabled" in capsys.readouterr().out

    notebook = str(tmp_path / "auto.ipynb")
    svc = workspace.service("provenance")
    kernel = _Kernel(_kernel_env(tmp_path, mlinfra_env, notebook), str(tmp_path))
    try:
        kernel.run("a = 1", "first")  # no %load_ext anywhere
        kernel.run("b = a + 1", "second")
        log = wait_until(
            lambda: (lambda lg: lg if lg and len(lg.executions) == 2 else None)(
                svc.stored_log(notebook)
            ),
            "the first two cells in the catalog",
        )
        assert [e.cell_id for e in log.executions] == ["first", "second"]
        assert log.before_recording is None
        assert svc.check(notebook).clean
    finally:
        kernel.shutdown()

    assert main(["disable-recording", "--user"]) == 0
    assert config.read_text() == mine  # exactly what was there
    kernel = _Kernel(_kernel_env(tmp_path, mlinfra_env, notebook), str(tmp_path))
    try:
        out = kernel.run(
            "import sys\nprint('jupyter_mlinfra.kernel.extension' in sys.modules)", "c"
        )["stdout"]
        assert out.strip() == "False"  # not loaded: not recording
    finally:
        kernel.shutdown()


def test_cells_run_before_load_ext_are_one_finding_not_hidden_state(
    tmp_path, workspace, mlinfra_env, wait_until
):
    notebook = str(tmp_path / "late.ipynb")
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("rate = 0.1\nsteps = 3", id="params"),
                new_code_cell("%load_ext jupyter_mlinfra", id="load"),
                new_code_cell("total = rate * steps", id="use"),
            ]
        ),
        notebook,
    )
    svc = workspace.service("provenance")
    kernel = _Kernel(_kernel_env(tmp_path, mlinfra_env, notebook), str(tmp_path))
    try:
        kernel.run("rate = 0.1\nsteps = 3", "params")
        kernel.run("%load_ext jupyter_mlinfra", "load")
        kernel.run("total = rate * steps", "use")
        out = json.loads(kernel.run("%mlinfra check --json", "check")["stdout"])
        log = wait_until(lambda: svc.stored_log(notebook), "the recorded execution")
    finally:
        kernel.shutdown()
    for report in (out, svc.check(notebook).to_dict()):
        assert report["before_recording"] == 1
        assert report["hidden_state"] == [] and report["hidden_state_cells"] == []
        [finding] = report["explanations"]
        assert finding["kind"] == "before_recording"
        assert finding["message"].startswith("1 execution ran before recording started")
        assert finding["names"] == ["rate", "steps"]
    assert log.before_recording.executions == 1


def test_a_model_reading_a_name_set_before_recording_says_so(ip, tmp_path, monkeypatch):
    import warnings

    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("unload_ext", "jupyter_mlinfra")
    ip.run_cell("pre_weight = 3.0", store_history=True, cell_id="p-param")
    ip.run_cell("%load_ext jupyter_mlinfra", store_history=True, cell_id="p-load")
    cell = (
        "from jupyter_mlinfra import models\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "clf = LogisticRegression(C=pre_weight).fit([[0.0], [1.0], [2.0], [3.0]], "
        "[0, 0, 1, 1])\n"
        "v = models.register('pre-rec', clf)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ip.run_cell(cell, store_history=True, cell_id="p-fit").success
    v = ip.user_ns["v"]
    assert v.clean is False
    assert any(
        "`pre_weight`, left by executions that ran before recording started" in r
        for r in v.dirty_reasons
    ), v.dirty_reasons
    assert not any("hidden state" in r for r in v.dirty_reasons), v.dirty_reasons


def test_recording_kernel_writes_a_sqlite_catalog_without_sqlalchemy(
    tmp_path, workspace, mlinfra_env, wait_until
):
    """On a SQLite catalog created beforehand (by the server, the CLI, an earlier kernel), a
    recording kernel registers its session and writes every execution without importing
    SQLAlchemy (its import was most of a kernel's once-per-kernel recording CPU)."""
    notebook = str(tmp_path / "light.ipynb")
    svc = workspace.service("provenance")
    workspace.catalog.ensure_schema()
    kernel = _Kernel(_kernel_env(tmp_path, mlinfra_env, notebook), str(tmp_path))
    try:
        kernel.run("%load_ext jupyter_mlinfra", "load")
        kernel.run("a = [1]", "c1")
        kernel.run("a.append(2)\nb = len(a)", "c2")
        kernel_id = kernel.km.kernel_id
        session = wait_until(lambda: svc.kernel_sessions(kernel_id), "the session")[0]
        log = wait_until(
            lambda: (lambda lg: lg if lg and len(lg.executions) == 2 else None)(
                svc.stored_log(notebook, session["session_id"])
            ),
            "the two executions",
        )
        assert [(e.cell_id, sorted(e.binds), sorted(e.mutates)) for e in log.executions] == [
            ("c1", ["a"], []),
            ("c2", ["b"], ["a"]),
        ]
        out = kernel.run(
            "import sys\nprint(sorted(m for m in sys.modules"
            " if m.split('.')[0] in ('sqlalchemy', 'alembic')))",
            "mods",
        )
        assert out["stdout"].strip() == "[]"
    finally:
        kernel.shutdown()


def test_an_idle_recorder_still_records_the_next_cell(ip, workspace, wait_until):
    """Once everything is written the recorder's thread sleeps (no polling while the kernel
    is idle); the next cell wakes it and is written without anyone asking for a flush."""
    from jupyter_mlinfra.kernel.provenance_recorder import get_recorder

    rec = get_recorder()
    rec._explicit_path = "/idle/nb.ipynb"
    workspace.catalog.ensure_schema()
    ip.run_cell("a = 1", cell_id="i1")
    ip.run_cell("b = a + 1", cell_id="i2")
    wait_until(lambda: rec.written == 2 and rec._idle, "the two cells written, then idle")
    ip.run_cell("c = b * 2", cell_id="i3")
    wait_until(lambda: rec.written == 3, "the cell after the idle time written")
    log = workspace.service("provenance").stored_log("/idle/nb.ipynb")
    assert [(e.cell_id, sorted(e.reads)) for e in log.executions] == [
        ("i1", []),
        ("i2", ["a"]),
        ("i3", ["b"]),
    ]
