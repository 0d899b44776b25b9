"""The first ``%mlinfra check`` in a kernel answers as fast as the later ones: it no longer
imports nbformat (over a second of CPU: jsonschema's format checkers build their grammars at
import; 12 s on a loaded machine), neither through verify's module nor to read the notebook's
cells. Measured on a real kernel: the import is what made the first check slow. And the
magic's verify grammar."""

from __future__ import annotations

import os

import nbformat
import pytest
from IPython.core.error import UsageError
from jupyter_client.manager import start_new_kernel
from nbformat.v4 import new_code_cell, new_notebook


def _run(kc, code: str) -> list[str]:
    texts: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            texts.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            texts.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

    reply = kc.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", texts
    return texts


def test_first_check_does_not_import_nbformat(tmp_path, mlinfra_env):
    path = tmp_path / "analysis.ipynb"
    nbformat.write(
        new_notebook(cells=[new_code_cell("a = 1", id="c1"), new_code_cell("b = a + 1", id="c2")]),
        path,
    )
    env = dict(os.environ, JPY_SESSION_NAME=str(path))
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        _run(kc, "%load_ext jupyter_mlinfra")
        _run(kc, "a = 1")
        _run(kc, "b = a + 1")
        out = "".join(
            _run(
                kc,
                "%mlinfra check\nimport sys\n"
                "print('nbformat imported:', 'nbformat' in sys.modules)",
            )
        )
        assert f"provenance check of {path}" in out
        assert "No hazards" in out
        assert "nbformat imported: False" in out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_magic_verify_shares_the_cli_grammar(ip, tmp_path, capsys):
    """``%mlinfra verify`` takes --kernel, --timeout and --lax as `jupyter mlinfra verify`."""
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1", id="c1")]), path)
    ip.run_line_magic("mlinfra", f"verify {path} --kernel nope --lax --timeout 5")
    out = capsys.readouterr().out
    assert "FAIL" in out and "no such kernel: 'nope'" in out
    with pytest.raises(UsageError, match="--timeout must be 0"):
        ip.run_line_magic("mlinfra", f"verify {path} --timeout -1")
