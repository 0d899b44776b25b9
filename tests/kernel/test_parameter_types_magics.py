"""%mlinfra run / job create check parameter types as the server does (the same core check):
a UsageError naming the parameter and its type, nothing queued."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from tests.core.jobs.notebooks import make_root


@pytest.fixture
def root(ip, tmp_path, monkeypatch):
    root = make_root(tmp_path / "root")
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(root))
    monkeypatch.setenv("MLINFRA_JOBS_RECORD_PROVENANCE", "false")
    return root


def test_a_value_of_the_wrong_type_is_a_usage_error_naming_the_parameter(ip, root):
    with pytest.raises(
        UsageError,
        match=r"parameter x of ok\.ipynb expects int .*got float "
        r"2500\.7",
    ):
        ip.run_line_magic("mlinfra", "run ok.ipynb -p x 2500.7")
    with pytest.raises(UsageError, match="parameter x of ok.ipynb expects int .*got str 'abc'"):
        ip.run_line_magic("mlinfra", "job create nightly ok.ipynb -p x abc")
    with pytest.raises(UsageError, match="parameter x of ok.ipynb expects int .*empty value"):
        ip.run_line_magic("mlinfra", "run ok.ipynb -p x ''")
    assert ip.run_line_magic("mlinfra", "run ok.ipynb -p x 12")["parameters"] == {"x": 12}
