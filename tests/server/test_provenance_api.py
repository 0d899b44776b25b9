"""REST: /mlinfra/api/provenance (GET, POST check/replay/verify) and its OpenAPI entries."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from tornado.httpclient import HTTPClientError

from jupyter_mlinfra.core.provenance.model import Execution
from jupyter_mlinfra.core.workspace import Workspace

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _execution(os_path: str, session: str, start: float, took: float = 0.002):
    """A maker of recorded executions of one session of the notebook at ``os_path``."""

    def ex(seq, cid, src, reads=(), binds=()):
        return Execution(
            seq=seq,
            cell_id=cid,
            source=src,
            session_id=session,
            notebook_path=os_path,
            execution_count=seq,
            started_at=start + seq,
            ended_at=start + seq + took,
            reads=frozenset(reads),
            binds=frozenset(binds),
        )

    return ex


def _record(os_path: str) -> None:
    ex = _execution(os_path, "kernel-abc", 1.7e9)
    ws = Workspace.open()
    ws.service("provenance").record(
        [
            ex(1, "c1", "a = 20", binds=["a"]),
            ex(2, "c2", "b = a + 1\nprint(b)", ["a"], ["b"]),
            ex(3, "c1", "a = 41", binds=["a"]),
        ]
    )
    ws.close()


@pytest.fixture
def notebook(jp_root_dir):
    nb = new_notebook(
        cells=[
            new_code_cell("a = 41", id="c1", execution_count=3),
            new_code_cell(
                "b = a + 1\nprint(b)",
                id="c2",
                execution_count=2,
                outputs=[new_output("stream", name="stdout", text="21\n")],
            ),
        ],
        metadata={"kernelspec": KERNELSPEC},
    )
    (jp_root_dir / "work").mkdir()
    path = jp_root_dir / "work" / "nb.ipynb"
    nbformat.write(nb, path)
    _record(str(path))  # what the kernel records: the absolute path (JPY_SESSION_NAME)
    return "work/nb.ipynb"


async def test_get_history_and_hazards_by_contents_path(jp_fetch, notebook):
    response = await jp_fetch("mlinfra", "api", "provenance", params={"path": notebook})
    body = json.loads(response.body)
    assert body["path"] == notebook and body["session_id"] == "kernel-abc"
    assert [e["seq"] for e in body["executions"]] == [1, 2, 3]
    assert body["report"]["stale_direct"] == ["c2"]
    assert body["report"]["explanations"][0]["message"].startswith("cell 2 is stale")
    assert body["log"]["executions"][0]["cell_id"] == "c1"  # what the panel saves in metadata


async def test_post_check_uses_the_front_ends_cells(jp_fetch, notebook):
    cells = [{"id": "c1", "source": "a = 41"}, {"id": "c2", "source": "b = a + 2\nprint(b)"}]
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "check",
        method="POST",
        body=json.dumps({"path": notebook, "cells": cells, "kernel_id": "kernel-abc"}),
    )
    report = json.loads(response.body)["report"]
    assert report["code_changed"] == ["c2"] and report["stale_direct"] == ["c2"]


async def test_bad_requests_are_400_and_404(jp_fetch, notebook):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "provenance")
    assert err.value.code == 400
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "provenance", params={"path": "../../etc/passwd"})
    assert err.value.code == 400
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "mlinfra",
            "api",
            "provenance",
            "check",
            method="POST",
            body=json.dumps({"path": notebook, "cells": "nope"}),
        )
    assert err.value.code == 400
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "mlinfra",
            "api",
            "provenance",
            "replay",
            method="POST",
            body=json.dumps({"path": notebook, "cell_id": "missing"}),
        )
    assert err.value.code == 404
    assert json.loads(err.value.response.body)["error"]["code"] == "not_found"


async def test_replay_then_verify_it(jp_fetch, notebook, jp_root_dir):
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "replay",
        method="POST",
        body=json.dumps({"path": notebook, "cell_id": "c2"}),
    )
    assert response.code == 201
    summary = json.loads(response.body)
    assert summary["path"] == "work/nb.replay.ipynb"
    assert [e["seq"] for e in summary["executions"]] == [1, 2]
    replay = nbformat.read(jp_root_dir / "work" / "nb.replay.ipynb", as_version=4)
    assert [c.source for c in replay.cells if c.cell_type == "code"] == [
        "a = 20",
        "b = a + 1\nprint(b)",
    ]
    # verify --replay: the replay reproduces the stored output of c2 ("21")
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "verify",
        method="POST",
        body=json.dumps({"path": notebook, "replay": True, "cell_id": "c2"}),
        request_timeout=120,
    )
    result = json.loads(response.body)
    assert result["verdict"] == "pass", result
    assert [c["status"] for c in result["cells"]] == ["skipped", "match"]


async def test_verify_reports_a_timeout_and_a_missing_kernel(jp_fetch, jp_root_dir):
    nb = new_notebook(
        cells=[new_code_cell("import time\ntime.sleep(1000)", id="hung")],
        metadata={"kernelspec": KERNELSPEC},
    )
    nbformat.write(nb, jp_root_dir / "hung.ipynb")
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "verify",
        method="POST",
        body=json.dumps({"path": "hung.ipynb", "timeout_seconds": 2}),
        request_timeout=120,
    )
    result = json.loads(response.body)
    assert result["verdict"] == "fail" and result["stop"]["kind"] == "timeout"
    assert result["stop"]["cell_id"] == "hung" and result["run_error"] == "timed out after 2 s"
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "verify",
        method="POST",
        body=json.dumps({"path": "hung.ipynb", "kernel_name": "nope"}),
        request_timeout=120,
    )
    result = json.loads(response.body)
    assert result["verdict"] == "fail" and result["stop"]["kind"] == "no_such_kernel"
    assert [c["status"] for c in result["cells"]] == ["not_run"]


async def test_openapi_describes_provenance(jp_fetch):
    doc = json.loads((await jp_fetch("mlinfra", "api", "openapi.json")).body)
    assert "/provenance" in doc["paths"] and "/provenance/verify" in doc["paths"]
    assert "ProvenanceReport" in doc["components"]["schemas"]


@pytest.fixture
def outside(tmp_path):
    """A notebook outside the server's root that leaves a marker file when it runs."""
    folder = tmp_path / "outside"
    folder.mkdir()
    marker = folder / "ran.txt"
    nb = new_notebook(
        cells=[new_code_cell(f"open({str(marker)!r}, 'w').write('ran')", id="o1")],
        metadata={"kernelspec": KERNELSPEC},
    )
    nbformat.write(nb, folder / "elsewhere.ipynb")
    return folder / "elsewhere.ipynb", marker


async def _refused(jp_fetch, *parts, **kw):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "provenance", *parts, **kw)
    body = json.loads(err.value.response.body)
    return err.value.code, body["error"]["message"]


async def test_paths_outside_the_root_are_refused_by_every_endpoint(
    jp_fetch, jp_root_dir, notebook, outside
):
    nb_outside, marker = outside
    (jp_root_dir / "link.ipynb").symlink_to(nb_outside)  # inside the root, pointing out
    (jp_root_dir / "linked-dir").symlink_to(nb_outside.parent, target_is_directory=True)
    escapes = [
        "/etc/passwd",
        str(nb_outside),
        "link.ipynb",
        "linked-dir/elsewhere.ipynb",
        "../outside/elsewhere.ipynb",
        "work/../../outside/elsewhere.ipynb",
    ]
    for path in escapes:
        code, message = await _refused(jp_fetch, params={"path": path})
        assert code == 400 and "outside the server root" in message, (path, message)
        assert "root:" not in message  # never the first bytes of /etc/passwd
        for action, body in (
            ("check", {"path": path}),
            ("verify", {"path": path}),
            ("replay", {"path": path}),
        ):
            code, message = await _refused(
                jp_fetch, action, method="POST", body=json.dumps(body), request_timeout=60
            )
            assert code == 400 and "outside the server root" in message, (action, path)
    assert not marker.exists()  # verify never ran the notebook outside the root


async def test_replay_never_writes_outside_the_root(jp_fetch, jp_root_dir, notebook, tmp_path):
    target = tmp_path / "elsewhere" / "deep" / "replay.ipynb"
    (jp_root_dir / "out-link").symlink_to(tmp_path, target_is_directory=True)
    for out_path in (
        str(target),
        "../elsewhere/deep/replay.ipynb",
        "out-link/elsewhere/deep/replay.ipynb",
    ):
        code, message = await _refused(
            jp_fetch,
            "replay",
            method="POST",
            body=json.dumps({"path": notebook, "cell_id": "c2", "out_path": out_path}),
        )
        assert code == 400 and "outside the server root" in message, out_path
    assert not (tmp_path / "elsewhere").exists()  # not even its folders


async def test_a_file_that_is_not_a_notebook_is_not_quoted(jp_fetch, jp_root_dir):
    (jp_root_dir / "secret.ipynb").write_text("root:x:0:0:root:/root:/bin/bash\n" * 10)
    code, message = await _refused(jp_fetch, params={"path": "secret.ipynb"})
    assert code == 400 and "not a valid notebook" in message
    assert "root:x" not in message


async def test_jupyterlabs_cache_busting_query_is_accepted(jp_fetch, notebook):
    # JupyterLab's ServerConnection appends ?<epoch ms> to every GET the panel makes
    response = await jp_fetch(
        "mlinfra", "api", "provenance", params={"path": notebook, "1796138724224": ""}
    )
    assert json.loads(response.body)["session_id"] == "kernel-abc"


async def test_recording_switch_writes_the_users_kernel_config_only(
    jp_fetch, mlinfra_env, tmp_path
):
    import os
    from pathlib import Path

    config = Path(os.environ["IPYTHONDIR"]) / "profile_default" / "ipython_kernel_config.py"
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "recording",
        method="POST",
        body=json.dumps({"enabled": True}),
    )
    status = json.loads(response.body)
    assert status["scopes"]["user"] == {"enabled": True, "path": str(config)}
    assert "jupyter_mlinfra" in config.read_text()
    with pytest.raises(HTTPClientError) as err:  # the environment's config: command line only
        await jp_fetch(
            "mlinfra",
            "api",
            "provenance",
            "recording",
            method="POST",
            body=json.dumps({"enabled": True, "scope": "sys-prefix"}),
        )
    assert err.value.code == 400
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "recording",
        method="POST",
        body=json.dumps({"enabled": False}),
    )
    assert json.loads(response.body)["scopes"]["user"]["enabled"] is False
    assert not config.exists()


async def test_a_restarted_kernel_shows_only_its_new_session(jp_fetch, notebook, jp_root_dir):
    from jupyter_mlinfra.core.provenance.model import KernelSession

    os_path = str(jp_root_dir / "work" / "nb.ipynb")
    ws = Workspace.open()
    svc = ws.service("provenance")
    # the lifetime before the restart ("kernel-abc"'s executions, with a stale cell 2) and
    # the one after it, registered by its recorder before any cell ran
    svc.register_session(KernelSession("kernel-abc", os_path, 1.7e9, kernel_id="k-1"))
    svc.register_session(KernelSession("s-after", os_path, 1.7e9 + 60, kernel_id="k-1"))
    ws.close()
    view = json.loads(
        (
            await jp_fetch(
                "mlinfra",
                "api",
                "provenance",
                "check",
                method="POST",
                body=json.dumps({"path": notebook, "kernel_id": "k-1"}),
            )
        ).body
    )
    assert view["session_id"] == "s-after" and view["executions"] == []
    assert view["report"] is None  # nothing of the stale cell of the old one
    assert view["kernel"]["restarted"] is True
    assert view["kernel"]["previous_session_id"] == "kernel-abc"
    assert [s["session_id"] for s in view["sessions"]] == ["s-after", "kernel-abc"]
    # a kernel that records nothing shows nothing, not another kernel's session
    view = json.loads(
        (
            await jp_fetch(
                "mlinfra", "api", "provenance", params={"path": notebook, "kernel_id": "k-2"}
            )
        ).body
    )
    assert view["kernel"]["recording"] is False and view["report"] is None
    # the session before stays browsable
    old = json.loads(
        (
            await jp_fetch(
                "mlinfra", "api", "provenance", params={"path": notebook, "session": "kernel-abc"}
            )
        ).body
    )
    assert old["report"]["stale_direct"] == ["c2"]


def _saved_notebook(path, session_id="saved-1", machine="laptop-7"):
    """A notebook carrying a saved execution log (as saved from JupyterLab elsewhere)."""
    from jupyter_mlinfra.core.provenance.model import ExecutionLog, attach_log

    ex = _execution("/elsewhere/nb.ipynb", session_id, 1.6e9, took=0.01)
    nb = nbformat.read(path, as_version=4)
    attach_log(
        nb,
        ExecutionLog(
            [
                ex(1, "c1", "a = 20", binds=["a"]),
                ex(2, "c2", "b = a + 1\nprint(b)", ["a"], ["b"]),
                ex(3, "c1", "a = 41", binds=["a"]),
            ],
            notebook_path="/elsewhere/nb.ipynb",
            session_id=session_id,
        ),
    )
    nb.metadata["jupyter_mlinfra"]["provenance"]["machine"] = machine
    nbformat.write(nb, path)


async def test_a_kernel_with_nothing_recorded_shows_the_notebooks_saved_log(jp_fetch, jp_root_dir):
    from jupyter_mlinfra.core.provenance.model import KernelSession

    nb = new_notebook(
        cells=[new_code_cell("a = 41", id="c1"), new_code_cell("b = a + 1\nprint(b)", id="c2")],
        metadata={"kernelspec": KERNELSPEC},
    )
    path = jp_root_dir / "carried.ipynb"
    nbformat.write(nb, path)
    _saved_notebook(path)
    ws = Workspace.open()
    ws.service("provenance").register_session(
        KernelSession("s-fresh", str(path), 1.7e9, kernel_id="k-fresh")
    )
    ws.close()
    for kernel in ("k-fresh", "k-not-recording"):
        view = json.loads(
            (
                await jp_fetch(
                    "mlinfra",
                    "api",
                    "provenance",
                    "check",
                    method="POST",
                    body=json.dumps({"path": "carried.ipynb", "kernel_id": kernel}),
                )
            ).body
        )
        assert view["source"] == "saved" and view["machine"] == "laptop-7"
        assert view["saved_at"].startswith("20")
        assert view["session_id"] == "saved-1" and len(view["executions"]) == 3
        assert view["report"]["stale_direct"] == ["c2"]
    # the saved log is a session of this very kernel (saved, then restarted): not shown
    _saved_notebook(path, session_id="s-fresh")
    ws = Workspace.open()
    ws.service("provenance").register_session(
        KernelSession("s-fresh-2", str(path), 1.7e9 + 9, kernel_id="k-fresh")
    )
    ws.close()
    view = json.loads(
        (
            await jp_fetch(
                "mlinfra",
                "api",
                "provenance",
                "check",
                method="POST",
                body=json.dumps({"path": "carried.ipynb", "kernel_id": "k-fresh"}),
            )
        ).body
    )
    assert view["source"] == "recorded" and view["report"] is None


async def test_replay_export_never_overwrites_without_being_asked(jp_fetch, notebook, jp_root_dir):
    body = {"path": notebook, "cell_id": "c2", "out_path": "work/replay-cell2.ipynb"}
    response = await jp_fetch(
        "mlinfra", "api", "provenance", "replay", method="POST", body=json.dumps(body)
    )
    assert response.code == 201
    written = jp_root_dir / "work" / "replay-cell2.ipynb"
    written.write_text("precious")
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "mlinfra", "api", "provenance", "replay", method="POST", body=json.dumps(body)
        )
    assert err.value.code == 409
    assert json.loads(err.value.response.body)["error"]["code"] == "conflict"
    assert written.read_text() == "precious"
    response = await jp_fetch(
        "mlinfra",
        "api",
        "provenance",
        "replay",
        method="POST",
        body=json.dumps({**body, "overwrite": True}),
    )
    assert response.code == 201 and written.read_text() != "precious"


async def test_the_log_to_save_carries_earlier_sessions_compacted(jp_fetch, notebook, jp_root_dir):
    os_path = str(jp_root_dir / "work" / "nb.ipynb")
    ex = _execution(os_path, "kernel-old", 1.6e9)
    ws = Workspace.open()
    ws.service("provenance").record(
        [
            ex(1, "c1", "a = 1", binds=["a"]),
            ex(2, "gone", "junk = 0", binds=["junk"]),
            ex(3, "c2", "b = a + 1\nprint(b)", ["a"], ["b"]),
        ]
    )
    ws.close()
    view = json.loads(
        (await jp_fetch("mlinfra", "api", "provenance", params={"path": notebook})).body
    )
    log = view["log"]
    assert log["session_id"] == "kernel-abc" and len(log["executions"]) == 3  # in full
    (old,) = log["earlier_sessions"]
    assert [e["cell_id"] for e in old["executions"]] == ["c1", "c2"]  # what replays need
    assert log["dropped"] == {"executions": 1, "sessions": 0} and log["machine"]


async def test_paths_no_file_system_takes_are_a_400(jp_fetch):
    # JSON carries NUL characters and lone surrogates; no file system names a file with them
    for path in ("a\x00b.ipynb", "a\ud800b.ipynb"):
        for action in ("check", "replay", "verify"):
            code, message = await _refused(
                jp_fetch, action, method="POST", body=json.dumps({"path": path})
            )
            assert code == 400 and ("NUL" in message or "not a valid file name" in message)
