"""Provenance in remote mode: check and verify notebooks under the service's root."""

from __future__ import annotations

import json

import pytest
from service_notebooks import saved_notebook

from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied


def test_verify_and_check_on_the_service(service, remote, cli):
    (service.root / "good.ipynb").write_text(
        json.dumps(saved_notebook([("a = 20", ""), ("a + 1", "21")]))
    )
    (service.root / "bad.ipynb").write_text(
        json.dumps(saved_notebook([("a = 20", ""), ("a + 2", "21")]))
    )
    prov = remote(service, "alice").service("provenance")
    good = prov.verify("good.ipynb")
    assert good.ok and good.counts["mismatch"] == 0 and good.notebook == "good.ipynb"
    bad = prov.verify("bad.ipynb")
    assert not bad.ok and bad.counts["mismatch"] == 1
    assert "mismatch" in bad.to_text()
    # no recorded history for it: the same NotFound as in direct mode
    with pytest.raises(NotFound, match="no execution history"):
        prov.check("good.ipynb")
    done = cli(service, "bob", "verify", "good.ipynb", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "pass"
    failed = cli(service, "bob", "verify", "bad.ipynb")
    assert failed.returncode == 1 and "FAIL" in failed.stdout


def test_paths_outside_the_service_root_are_refused(service, remote):
    prov = remote(service, "alice").service("provenance")
    for path in ("/etc/passwd", "../service-home/catalog.db"):
        with pytest.raises((InvalidInput, PermissionDenied)) as caught:
            prov.verify(path)
        assert "root:x:" not in caught.value.message  # no file content in the error
        with pytest.raises((InvalidInput, PermissionDenied)):
            prov.check(path)


def test_history_check_and_replay_of_a_recorded_session(service, remote):
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.provenance.model import Execution, NotebookCell
    from jupyter_mlinfra.core.workspace import Workspace

    path = service.root / "hist.ipynb"
    path.write_text(json.dumps(saved_notebook([("a = 1", ""), ("b = a + 1", "")])))
    ws = Workspace(resolve_config(environ={"MLINFRA_HOME": str(service.home)}), user="alice")
    ws.service("provenance").record(
        [
            Execution(
                seq=1,
                cell_id="c0",
                source="a = 1",
                session_id="s1",
                notebook_path=str(path),
                execution_count=1,
                started_at=1.0,
                ended_at=2.0,
                binds=frozenset({"a"}),
            ),
            Execution(
                seq=2,
                cell_id="c1",
                source="b = a + 1",
                session_id="s1",
                notebook_path=str(path),
                execution_count=2,
                started_at=3.0,
                ended_at=4.0,
                reads=frozenset({"a"}),
                binds=frozenset({"b"}),
            ),
        ],
        owner="alice",
    )
    ws.close()
    prov = remote(service, "alice").service("provenance")
    log = prov.history("hist.ipynb")
    assert [e.cell_id for e in log.executions] == ["c0", "c1"] and log.session_id == "s1"
    assert prov.check("hist.ipynb").clean
    edited = prov.check(
        "hist.ipynb", cells=[NotebookCell("c0", "a = 2"), NotebookCell("c1", "b = a + 1")]
    )
    assert not edited.clean and "c0" in edited.code_changed
    slice_, nb = prov.replay("hist.ipynb", cell_id="c1")
    assert [e.seq for e in slice_] == [1, 2] and len(nb.cells) >= 2


def test_dependencies_are_analysed_over_the_services_history(service, remote):
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.provenance.model import Execution
    from jupyter_mlinfra.core.provenance.verify import VerifyOptions
    from jupyter_mlinfra.core.workspace import Workspace

    path = service.root / "deps.ipynb"
    path.write_text(json.dumps(saved_notebook([("a = 1", ""), ("z = 5", ""), ("b = a + 1", "")])))
    ws = Workspace(resolve_config(environ={"MLINFRA_HOME": str(service.home)}), user="alice")
    common = dict(session_id="s-deps", notebook_path=str(path))
    ws.service("provenance").record(
        [
            Execution(
                seq=1,
                cell_id="c0",
                source="a = 1",
                execution_count=1,
                started_at=1.0,
                ended_at=2.0,
                binds=frozenset({"a"}),
                **common,
            ),
            Execution(
                seq=2,
                cell_id="c1",
                source="z = 5",
                execution_count=2,
                started_at=3.0,
                ended_at=4.0,
                binds=frozenset({"z"}),
                **common,
            ),
            Execution(
                seq=3,
                cell_id="c2",
                source="b = a + 1",
                execution_count=3,
                started_at=5.0,
                ended_at=6.0,
                reads=frozenset({"a"}),
                binds=frozenset({"b"}),
                **common,
            ),
        ],
        owner="alice",
    )
    ws.close()
    prov = remote(service, "alice").service("provenance")
    deps = prov.dependencies("deps.ipynb", name="b")
    assert [e["cell_id"] for e in deps["replay"]] == ["c0", "c2"] and deps["clean"]
    assert deps["target"]["cell_id"] == "c2" and deps["session_id"] == "s-deps"
    with pytest.raises(NotFound, match="no execution history"):
        prov.dependencies("good_nothing.ipynb", name="b")
    # what cannot be done through the service says why
    with pytest.raises(InvalidInput, match="the mlinfra service's"):
        prov.embed_log("deps.ipynb")
    with pytest.raises(InvalidInput, match="regular expressions"):
        prov.verify("deps.ipynb", options=VerifyOptions(sanitizers=[("x", "y")]))
