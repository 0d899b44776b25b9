"""REST: /mlinfra/api/provenance (GET, POST check/replay/verify) and its OpenAPI entries."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from tornado.httpclient import HTTPClientError

from jupyter_mlinfra.core.provenance.model import Execution
from jupyter_mlinfra.core.workspace import Workspace

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _record(os_path: str) -> None:
    def ex(seq, cid, src, reads=(), binds=()):
        return Execution(seq=seq, cell_id=cid, source=src, session_id="kernel-abc",
                         notebook_path=os_path, execution_count=seq, started_at=1.7e9 + seq,
                         ended_at=1.7e9 + seq + 0.002, reads=frozenset(reads),
                         binds=frozenset(binds))
    ws = Workspace.open()
    ws.service("provenance").record([
        ex(1, "c1", "a = 20", binds=["a"]), ex(2, "c2", "b = a + 1\nprint(b)", ["a"], ["b"]),
        ex(3, "c1", "a = 41", binds=["a"])])
    ws.close()


@pytest.fixture
def notebook(jp_root_dir):
    nb = new_notebook(cells=[
        new_code_cell("a = 41", id="c1", execution_count=3),
        new_code_cell("b = a + 1\nprint(b)", id="c2", execution_count=2,
                      outputs=[new_output("stream", name="stdout", text="21\n")]),
    ], metadata={"kernelspec": KERNELSPEC})
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
    response = await jp_fetch("mlinfra", "api", "provenance", "check", method="POST",
                              body=json.dumps({"path": notebook, "cells": cells,
                                               "kernel_id": "kernel-abc"}))
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
        await jp_fetch("mlinfra", "api", "provenance", "check", method="POST",
                       body=json.dumps({"path": notebook, "cells": "nope"}))
    assert err.value.code == 400
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "provenance", "replay", method="POST",
                       body=json.dumps({"path": notebook, "cell_id": "missing"}))
    assert err.value.code == 404
    assert json.loads(err.value.response.body)["error"]["code"] == "not_found"


async def test_replay_then_verify_it(jp_fetch, notebook, jp_root_dir):
    response = await jp_fetch("mlinfra", "api", "provenance", "replay", method="POST",
                              body=json.dumps({"path": notebook, "cell_id": "c2"}))
    assert response.code == 201
    summary = json.loads(response.body)
    assert summary["path"] == "work/nb.replay.ipynb"
    assert [e["seq"] for e in summary["executions"]] == [1, 2]
    replay = nbformat.read(jp_root_dir / "work" / "nb.replay.ipynb", as_version=4)
    assert [c.source for c in replay.cells if c.cell_type == "code"] == \
        ["a = 20", "b = a + 1\nprint(b)"]
    # verify --replay: the replay reproduces the stored output of c2 ("21")
    response = await jp_fetch("mlinfra", "api", "provenance", "verify", method="POST",
                              body=json.dumps({"path": notebook, "replay": True,
                                               "cell_id": "c2"}),
                              request_timeout=120)
    result = json.loads(response.body)
    assert result["verdict"] == "pass", result
    assert [c["status"] for c in result["cells"]] == ["skipped", "match"]


async def test_openapi_describes_provenance(jp_fetch):
    doc = json.loads((await jp_fetch("mlinfra", "api", "openapi.json")).body)
    assert "/provenance" in doc["paths"] and "/provenance/verify" in doc["paths"]
    assert "ProvenanceReport" in doc["components"]["schemas"]
