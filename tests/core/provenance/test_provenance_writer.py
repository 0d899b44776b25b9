"""The recorder's catalog writer: plain ``sqlite3`` on a migrated SQLite catalog, the service
otherwise; what it writes reads back through the service exactly as what the service writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from jupyter_mlinfra.core.provenance.model import BeforeRecording, Execution, KernelSession
from jupyter_mlinfra.core.provenance.writer import SQLiteWriter, open_writer

PATH = "/work/writer.ipynb"


def _executions(session: str) -> list[Execution]:
    return [
        Execution(
            seq=1,
            cell_id="c1",
            source="import os\ndata = open('d.csv').read()",
            session_id=session,
            notebook_path=PATH,
            execution_count=1,
            started_at=1.7e9 + 0.123456,
            ended_at=1.7e9 + 0.5,
            reads=frozenset({"os", "<file:/w/d.csv>"}),
            binds=frozenset({"data", "os"}),
            files={"/w/d.csv": [12, 1_700_000_000_123_456_789]},
        ),
        Execution(
            seq=2,
            cell_id="c2",
            source="def f(x):\n    return data + x",
            session_id=session,
            notebook_path=PATH,
            execution_count=None,
            started_at=1.7e9 + 1,
            ended_at=1.7e9 + 1.25,
            binds=frozenset({"f"}),
            deferred={"f": ["data"]},
        ),
        Execution(
            seq=3,
            cell_id="c3",
            source="items.sort(); exec(code)",
            session_id=session,
            notebook_path=PATH,
            execution_count=3,
            started_at=1.7e9 + 2,
            ended_at=1.7e9 + 2.5,
            status="error",
            error_type="NameError",
            reads=frozenset({"items", "code"}),
            mutates=frozenset({"items"}),
            assumed=frozenset({"items"}),
            unfollowed=("exec()",),
        ),
    ]


def _session(session: str) -> KernelSession:
    return KernelSession(
        session,
        PATH,
        1.7e9 - 5.5,
        kernel_id="k-writer",
        before_recording=BeforeRecording(2, frozenset({"seed", "a"})),
    )


def _stored(svc, session: str) -> tuple[list[dict], dict]:
    log = svc.stored_log(PATH, session)
    executions = [{**e.to_dict(), "session_id": "S"} for e in log.executions]
    listed = {s["session_id"]: s for s in svc.sessions(PATH)}[session]
    return executions, {**listed, "session_id": "S", "before": log.before_recording}


def _same_as_the_service(writer, svc) -> None:
    """Sessions and executions written by ``writer`` read back through the service exactly as
    the ones the service writes itself."""
    assert writer.register_session(_session("by-service")) is True
    assert svc.register_session(_session("by-service")) is False  # once, whoever writes
    assert writer.register_session(_session("by-writer")) is True
    assert writer.register_session(_session("by-writer")) is False
    svc.register_session(_session("by-service-2"))
    assert svc.record(_executions("by-service-2")) == 3
    assert writer.record(_executions("by-writer")) == 3
    assert writer.record(_executions("by-writer")) == 0  # idempotent per (session, seq)
    assert writer.record([]) == 0
    assert _stored(svc, "by-writer") == _stored(svc, "by-service-2")
    assert [s["session_id"] for s in svc.kernel_sessions("k-writer")][0] in (
        "by-writer",
        "by-service",
        "by-service-2",
    )
    assert svc.check(PATH, session_id="by-writer").before_recording == 2


def test_sqlite_catalog_is_written_with_sqlite3_and_reads_back_identically(workspace):
    workspace.catalog.ensure_schema()
    writer = open_writer(workspace)
    assert isinstance(writer, SQLiteWriter)
    svc = workspace.service("provenance")
    _same_as_the_service(writer, svc)
    # the stored text itself is the same (timestamps as SQLAlchemy writes them, effects JSON)
    db = sqlite3.connect(workspace.config.catalog_url.split(":///", 1)[1])
    rows = {
        sid: db.execute(
            "select started_at, ended_at, duration_ms, effects, owner, execution_count, status,"
            " error_type from mlinfra_provenance_executions where session_id = ? order by seq",
            (sid,),
        ).fetchall()
        for sid in ("by-writer", "by-service-2")
    }
    assert rows["by-writer"] == rows["by-service-2"]
    assert rows["by-writer"][0][0] == "2023-11-14 22:13:20.123456"
    sessions = {
        sid: db.execute(
            "select kernel_id, notebook_path, started_at, executions_before, names_before, owner"
            " from mlinfra_provenance_sessions where session_id = ?",
            (sid,),
        ).fetchone()
        for sid in ("by-writer", "by-service-2")
    }
    assert sessions["by-writer"] == sessions["by-service-2"]
    db.close()


def test_postgresql_catalog_is_written_by_the_service(pg_catalog_url, mlinfra_env, monkeypatch):
    from jupyter_mlinfra.core.provenance.service import ProvenanceService
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", pg_catalog_url)
    ws = Workspace.open()
    try:
        writer = open_writer(ws)
        assert isinstance(writer, ProvenanceService)
        _same_as_the_service(writer, ws.service("provenance"))
    finally:
        ws.close()


def test_a_catalog_not_created_yet_is_created_by_the_service(workspace):
    """No catalog file yet: the sqlite3 writer leaves no empty file behind, and the service
    writes (creating and migrating the catalog); the next writer is the fast one."""
    db = workspace.config.catalog_url.split(":///", 1)[1]
    assert SQLiteWriter.open(workspace.config.catalog_url, "me") is None
    import os

    assert not os.path.exists(db)
    writer = open_writer(workspace)
    assert not isinstance(writer, SQLiteWriter)
    assert writer.record(_executions("first")) == 3
    assert isinstance(open_writer(workspace), SQLiteWriter)


def test_a_catalog_not_at_the_package_heads_is_written_by_the_service(workspace):
    workspace.catalog.ensure_schema()
    db = sqlite3.connect(workspace.config.catalog_url.split(":///", 1)[1])
    db.execute(
        "update alembic_version set version_num = '0009_older'"
        " where version_num = '0010_provenance_sessions'"
    )
    db.commit()
    db.close()
    assert SQLiteWriter.open(workspace.config.catalog_url, "me") is None


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro", "postgresql://u@h/db"]
)
def test_urls_the_sqlite3_writer_leaves_to_the_service(url):
    assert SQLiteWriter.open(url, "me") is None


def test_opening_the_writer_imports_no_sqlalchemy(workspace):
    """The kernel's recorder writes to a migrated SQLite catalog without SQLAlchemy: the ORM
    and engine imports were most of a kernel's once-per-kernel recording cost."""
    workspace.catalog.ensure_schema()
    code = (
        "import sys\n"
        "from jupyter_mlinfra.kernel.provenance_recorder import _default_service\n"
        "from jupyter_mlinfra.core.provenance.model import KernelSession\n"
        "w = _default_service()\n"
        "w.register_session(KernelSession('s-imports', '/nb.ipynb', 1.7e9))\n"
        "print(type(w).__name__, sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('sqlalchemy', 'alembic')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split(None, 1)
    assert out == ["SQLiteWriter", "[]\n"]
    assert workspace.service("provenance").sessions("/nb.ipynb")[0]["session_id"] == "s-imports"
