"""Provenance in remote mode: check and verify notebooks under the service's root."""

from __future__ import annotations

import json

import pytest

from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied


def _notebook(cells: list[tuple[str, str]]) -> dict:
    return {"cells": [{"cell_type": "code", "execution_count": i + 1, "id": f"c{i}",
                       "metadata": {}, "source": src,
                       "outputs": [{"output_type": "execute_result", "execution_count": i + 1,
                                    "data": {"text/plain": out}, "metadata": {}}]
                       if out else []} for i, (src, out) in enumerate(cells)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_verify_and_check_on_the_service(service, remote, cli):
    (service.root / "good.ipynb").write_text(json.dumps(_notebook([("a = 20", ""),
                                                                   ("a + 1", "21")])))
    (service.root / "bad.ipynb").write_text(json.dumps(_notebook([("a = 20", ""),
                                                                  ("a + 2", "21")])))
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
