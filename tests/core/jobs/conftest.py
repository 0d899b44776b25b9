from __future__ import annotations

import pytest

from .notebooks import make_root


@pytest.fixture
def nb_root(tmp_path):
    return make_root(tmp_path / "root")


@pytest.fixture
def jobs_ws(workspace, nb_root):
    """A workspace whose server root holds the test notebooks."""
    workspace.config.settings.root_dir = str(nb_root)
    return workspace


@pytest.fixture
def jobs(jobs_ws):
    return jobs_ws.service("jobs")
