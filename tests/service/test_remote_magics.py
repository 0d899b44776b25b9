"""The %mlinfra magics in remote mode (a kernel of a JupyterHub single-user server, whose
environment has MLINFRA_SERVICE_URL and the user's token): they talk to the central service."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError


@pytest.fixture
def ip(service, mlinfra_env, monkeypatch):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    monkeypatch.setenv("MLINFRA_SERVICE_URL", service.url)
    monkeypatch.setenv("MLINFRA_SERVICE_TOKEN", service.token("alice"))
    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "jupyter_mlinfra")
    yield shell
    shell.run_line_magic("unload_ext", "jupyter_mlinfra")


def test_magics_talk_to_the_service(ip, service, mlinfra_env, capsys):
    ip.run_line_magic("mlinfra", "info")
    out = capsys.readouterr().out
    assert f"service:     {service.url}" in out and "identity:    alice" in out
    ip.run_line_magic("mlinfra", "run train.ipynb -p x 8 --wait")
    from jupyter_mlinfra import jobs

    runs = jobs.runs(notebook="train.ipynb")
    assert [(r["state"], r["owner"], r["parameters"]) for r in runs] == [
        ("succeeded", "alice", {"x": 8})
    ]
    listed = ip.run_line_magic("mlinfra", "runs")
    assert runs[0]["id"][:12] in str(listed) + capsys.readouterr().out
    with pytest.raises(UsageError, match="no run"):  # a core error, as in direct mode
        ip.run_line_magic("mlinfra", "runs " + "0" * 32)
    assert not (mlinfra_env / "catalog.db").exists()
