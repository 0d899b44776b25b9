"""The provenance service: catalog storage (SQLite and PostgreSQL), the log travelling in the
notebook's metadata, verify on real notebooks with mismatches introduced on purpose."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from jupyter_mlinfra.core.errors import NotFound
from jupyter_mlinfra.core.provenance.model import (
    Execution,
    ExecutionLog,
    attach_log,
    log_from_notebook,
)
from jupyter_mlinfra.core.provenance.verify import (
    VerifyOptions,
    outputs_text,
    sanitize,
    texts_match,
)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _log(path: str, session: str = "s1") -> list[Execution]:
    def ex(seq, cid, src, reads=(), binds=(), t=0.0):
        return Execution(
            seq=seq,
            cell_id=cid,
            source=src,
            session_id=session,
            notebook_path=path,
            execution_count=seq,
            started_at=1.7e9 + seq + t,
            ended_at=1.7e9 + seq + t + 0.01,
            reads=frozenset(reads),
            binds=frozenset(binds),
        )

    return [
        ex(1, "c1", "a = 1", binds=["a"]),
        ex(2, "c2", "b = a + 1", ["a"], ["b"]),
        ex(3, "c1", "a = 5", binds=["a"]),
    ]


def _roundtrip(ws):
    svc = ws.service("provenance")
    path = "/work/nb.ipynb"
    assert svc.record(_log(path)) == 3
    assert svc.record(_log(path)) == 0  # idempotent per (session, seq)
    log = svc.stored_log(path)
    assert [e.seq for e in log.executions] == [1, 2, 3]
    assert log.executions[1].reads == {"a"} and log.executions[1].binds == {"b"}
    assert log.executions[0].started_at == pytest.approx(1.7e9 + 1)
    report = svc.check(path)
    assert report.stale_direct == ["c2"]
    assert svc.status() == {"executions": 3, "notebooks": 1, "sessions": 1}
    # a later session becomes the default one; the older stays reachable
    svc.record(_log(path, session="s2")[:1])
    assert svc.stored_log(path).session_id in ("s1", "s2")
    assert {s["session_id"] for s in svc.sessions(path)} == {"s1", "s2"}
    assert svc.history(path, session_id="s1").executions[-1].seq == 3
    _kernel_sessions(svc, path)


def _kernel_sessions(svc, path):
    """Each kernel lifetime is a session, registered before it records anything, with what
    ran before recording started."""
    from jupyter_mlinfra.core.provenance.model import BeforeRecording, KernelSession

    first = KernelSession(
        "s3",
        path,
        1.7e9 + 100,
        kernel_id="k-9",
        before_recording=BeforeRecording(2, frozenset({"a", "seed"})),
    )
    assert svc.register_session(first) is True
    assert svc.register_session(first) is False  # once
    svc.register_session(KernelSession("s4", path, 1.7e9 + 200, kernel_id="k-9"))
    assert [s["session_id"] for s in svc.kernel_sessions("k-9")] == ["s4", "s3"]
    listed = {s["session_id"]: s for s in svc.sessions(path)}
    assert listed["s4"]["executions"] == 0 and listed["s4"]["kernel_id"] == "k-9"
    svc.record(
        [
            Execution(
                seq=1,
                cell_id="c2",
                source="b = a + 1",
                session_id="s3",
                notebook_path=path,
                started_at=1.7e9 + 101,
                ended_at=1.7e9 + 102,
                reads=frozenset({"a"}),
                binds=frozenset({"b"}),
            )
        ]
    )
    log = svc.stored_log(path, "s3")
    assert log.before_recording == BeforeRecording(2, frozenset({"a", "seed"}))
    assert ExecutionLog.from_dict(log.to_dict()).before_recording == log.before_recording
    report = svc.check(path, session_id="s3")
    assert report.before_recording == 2 and report.hidden_state == []
    assert [f.kind for f in report.explanations] == ["before_recording"]


def test_catalog_roundtrip_sqlite(workspace):
    _roundtrip(workspace)


def test_catalog_roundtrip_postgresql(pg_catalog_url, mlinfra_env, monkeypatch):
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", pg_catalog_url)
    ws = Workspace.open()
    try:
        assert "0010_provenance_sessions" in ws.catalog.schema_revisions()
        _roundtrip(ws)
    finally:
        ws.close()


def test_unknown_notebook_is_not_found(workspace):
    with pytest.raises(NotFound):
        workspace.service("provenance").check("/nowhere/nothing.ipynb")


def test_log_travels_in_notebook_metadata(tmp_path, workspace):
    """A notebook carrying its own log is analysed without any catalog history."""
    path = tmp_path / "travel.ipynb"
    nb = new_notebook(
        cells=[new_code_cell("a = 5", id="c1"), new_code_cell("b = a + 1", id="c2")],
        metadata={"kernelspec": KERNELSPEC},
    )
    attach_log(nb, ExecutionLog(_log("/elsewhere/travel.ipynb"), "/elsewhere/travel.ipynb", "s1"))
    nbformat.write(nb, path)
    again = log_from_notebook(nbformat.read(path, as_version=4))
    assert [e.seq for e in again.executions] == [1, 2, 3]
    svc = workspace.service("provenance")
    assert svc.status()["executions"] == 0
    report = svc.check(str(path))
    assert report.stale_direct == ["c2"] and report.session_id == "s1"
    slice_, replay = svc.replay(str(path), cell_id="c2")
    assert [e.seq for e in slice_] == [1, 2]
    # the CLI reads it the same way
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_mlinfra.cli.main",
            "check",
            str(path),
            "--json",
            "--strict",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1, out.stderr
    assert json.loads(out.stdout)["stale"] == ["c2"]


def test_sanitizers_and_tolerance():
    opts = VerifyOptions()
    assert sanitize("<object object at 0x7f3a1c2b9d30>") == "<object object at 0x<address>>"
    assert sanitize("saved 2026-11-30T04:01:02.123456+00:00 ok") == "saved <timestamp> ok"
    assert sanitize("wrote /tmp/tmpab12cd/out.csv") == "wrote <tmp path>"
    assert texts_match("loss 0.30000000000000004", "loss 0.3000000000001", opts)
    assert not texts_match("loss 0.31", "loss 0.3", opts)
    assert not texts_match("count 42", "count 43", opts)  # integers compare exactly
    assert (
        outputs_text(
            [
                {"output_type": "stream", "name": "stdout", "text": "a\n"},
                {"output_type": "stream", "name": "stdout", "text": "b\n"},
            ]
        )
        == "[stdout]\na\nb"
    )
    # a run that loaded the extension before the notebook's own %load_ext: not a difference
    assert outputs_text(
        [
            {
                "output_type": "stream",
                "name": "stdout",
                "text": "The jupyter_mlinfra extension is already loaded. To reload it, use:\n"
                "  %reload_ext jupyter_mlinfra\n",
            }
        ]
    ) == outputs_text([])


def _stream(text):
    return new_output("stream", name="stdout", text=text)


def _result(text, count):
    return new_output("execute_result", data={"text/plain": text}, execution_count=count)


def _verify_notebook(tamper: bool) -> nbformat.NotebookNode:
    cells = [
        new_code_cell(
            "print(object())",
            id="addr",
            execution_count=1,
            outputs=[_stream("<object object at 0x7f00deadbeef>\n")],
        ),
        new_code_cell(
            "import datetime, tempfile\nprint(datetime.datetime.now().isoformat())\n"
            "print(tempfile.mkdtemp())",
            id="when",
            execution_count=2,
            outputs=[_stream("2020-01-01T00:00:00.000001\n/tmp/tmpq1w2e3\n")],
        ),
        new_code_cell(
            "0.1 + 0.2",
            id="float",
            execution_count=3,
            outputs=[_result("0.3000000000001" if tamper else "0.30000000000000004", 3)],
        ),
        new_code_cell(
            "print(41 + 1)",
            id="answer",
            execution_count=4,
            outputs=[_stream("43\n" if tamper else "42\n")],
        ),
        new_code_cell(
            "raise RuntimeError('not in CI')", id="skipme", metadata={"tags": ["mlinfra-skip"]}
        ),
        new_code_cell(
            "1 / 0",
            id="fails",
            execution_count=5,
            outputs=[
                new_output(
                    "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[]
                )
            ],
        ),
        new_code_cell(
            "print('after')", id="after", execution_count=6, outputs=[_stream("after\n")]
        ),
    ]
    return new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})


def test_verify_passes_a_reproducible_notebook(tmp_path, workspace):
    path = tmp_path / "good.ipynb"
    nbformat.write(_verify_notebook(tamper=False), path)
    result = workspace.service("provenance").verify(str(path))
    statuses = {c.cell_id: c.status for c in result.cells}
    assert statuses == {
        "addr": "match",
        "when": "match",
        "float": "match",
        "answer": "match",
        "skipme": "skipped",
        "fails": "match",
        "after": "match",
    }, result.to_text()
    assert result.ok and result.verdict == "pass"
    # the re-run's own provenance is kept apart, under <path>#verify, every cell of it
    log = workspace.service("provenance").stored_log(f"{path}#verify")
    assert [e.cell_id for e in log.executions][-1] == "after"
    assert {"addr", "answer", "fails", "after"} <= {e.cell_id for e in log.executions}


def test_cli_verify_exits_non_zero_on_a_mismatch(tmp_path, mlinfra_env):
    path = tmp_path / "tampered.ipynb"
    nbformat.write(_verify_notebook(tamper=True), path)
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_mlinfra.cli.main", "verify", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr
    body = json.loads(out.stdout)
    statuses = {c["cell_id"]: c["status"] for c in body["cells"]}
    assert body["verdict"] == "fail"
    assert statuses["answer"] == "mismatch"
    assert statuses["float"] == "match"  # within the numeric tolerance
    answer = next(c for c in body["cells"] if c["cell_id"] == "answer")
    assert "-43" in answer["diff"] and "+42" in answer["diff"]
