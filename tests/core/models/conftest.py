"""Model-store fixtures: workspaces on each storage pair, and a small fitted model."""

from __future__ import annotations

import pytest
from model_data import featurize


def make_workspace(monkeypatch, request, kind: str, user: str | None = None):
    from jupyter_mlinfra.core.workspace import Workspace

    if kind == "postgres+s3":
        root, endpoint = request.getfixturevalue("s3_bucket")
        monkeypatch.setenv("MLINFRA_CATALOG_URL", request.getfixturevalue("pg_catalog_url"))
        monkeypatch.setenv("MLINFRA_ARTIFACT_ROOT", root)
        monkeypatch.setenv("MLINFRA_S3_ENDPOINT_URL", endpoint)
    return Workspace.open(user=user)


@pytest.fixture(params=["sqlite+local", "postgres+s3"])
def backend_ws(request, mlinfra_env, monkeypatch):
    """A workspace on SQLite + a local folder, then on PostgreSQL + the S3 endpoint."""
    ws = make_workspace(monkeypatch, request, request.param)
    ws.backend_kind = request.param
    yield ws
    ws.close()


@pytest.fixture
def ws(workspace):
    return workspace


@pytest.fixture(scope="session")
def iris():
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    return frame


@pytest.fixture(scope="session")
def fitted(iris):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=0.7, max_iter=500).fit(featurize(iris), iris["target"])
    return model
