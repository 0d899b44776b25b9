"""Executed notebooks in remote mode: jupyter_mlinfra.notebooks asks the central service
(GET /notebooks), which ran the notebooks; a private run stays its owner's."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.errors import NotFound


@pytest.fixture
def as_alice(service, monkeypatch):
    """The public modules (``jupyter_mlinfra.notebooks``...) in remote mode as alice."""
    from jupyter_mlinfra.core.workspace import get_workspace

    monkeypatch.setenv("MLINFRA_SERVICE_URL", service.url)
    monkeypatch.setenv("MLINFRA_SERVICE_TOKEN", service.token("alice"))
    ws = get_workspace(refresh=True)
    assert ws.remote is not None
    yield ws
    ws.remote.close()


def test_search_read_and_render_executed_notebooks_through_the_service(service, as_alice, remote):
    from jupyter_mlinfra import jobs, notebooks

    run = jobs.run("train.ipynb", parameters={"x": 33}, wait=True, visibility="private")
    assert run["state"] == "succeeded", run["error"]
    found = notebooks.search(q="x is 33")
    assert [n["id"] for n in found] == [run["id"]]
    assert notebooks.search(parameter="x=33")[0]["parameters"] == {"x": 33}
    assert notebooks.get(run["id"])["code_cells"] >= 1
    assert any(
        "x is 33" in "".join(o.get("text", ""))
        for c in notebooks.read(run["id"]).cells
        for o in c.get("outputs", [])
    )
    assert "x is 33" in notebooks.html(run["id"])
    # bob (another team) through his own token: neither listed nor readable
    from jupyter_mlinfra.core import executed_notebooks

    bob = remote(service, "bob")
    assert run["id"] not in [n["id"] for n in executed_notebooks.list_notebooks(bob)["items"]]
    with pytest.raises(NotFound):
        executed_notebooks.get_notebook(bob, run["id"])
