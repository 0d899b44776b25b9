"""The model store's read side in remote mode (versions registered on the service's catalog
by alice): list, get, load (cached locally by checksum), aliases, archive, compare."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied


@pytest.fixture(scope="module")
def registered(service):
    """Two versions of "churn" registered directly on the service's catalog, as alice."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace(resolve_config(environ={"MLINFRA_HOME": str(service.home)}), user="alice")
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
    y = np.array([0, 1, 0, 1] * 5)
    store = ws.service("models")
    for c in (1.0, 0.1):
        store.register(
            "churn",
            LogisticRegression(C=c).fit(X, y),
            metrics={"auc": c},
            input_example=X[:2],
            tags={"team": "fraud"},
        )
    store.set_alias("churn", "production", 1, protected=True)
    ws.close()
    return X


def test_list_get_load_and_cache(service, remote, registered):
    models = remote(service, "bob").service("models")
    assert "churn" in [m["name"] for m in models.list_models()]
    latest = models.get("churn")
    assert latest.version == 2 and latest.owner == "alice" and latest.metrics == {"auc": 0.1}
    assert models.get("churn@production").version == 1
    assert [v.version for v in models.search(owner="alice")][:2] == [2, 1]
    loaded = models.load("churn:1")
    assert list(loaded.predict(registered[:4])) == [0, 1, 0, 1]
    # the artifacts are cached by their checksum: a second load needs no download
    cached = {p.name for p in models.cache.iterdir()}
    parameters = next(a for a in models.get("churn:1").artifacts if a["kind"] == "parameters")
    assert parameters["sha256"] in cached
    downloads = []
    fetch = models.client.download
    models.client.download = lambda path, **kw: (downloads.append(path), fetch(path, **kw))[1]
    assert list(models.load("churn:1").predict(registered[:4])) == [0, 1, 0, 1]
    assert downloads == []
    models.load("churn:2")
    assert downloads  # a version not loaded before is downloaded


def test_aliases_archive_compare_and_owners(service, remote, registered):
    alice = remote(service, "alice").service("models")
    bob = remote(service, "bob").service("models")
    assert alice.set_alias("churn", "staging", 2)["version"] == 2
    assert alice.get("churn@staging").version == 2
    with pytest.raises(PermissionDenied):
        bob.set_alias("churn", "production", 2)
    with pytest.raises(InvalidInput):
        alice.set_alias("churn", "staging", 0)
    with pytest.raises(NotFound):
        alice.get("churn:99")
    diff = alice.compare("churn:1", "churn:2")
    assert diff["metrics"]
    alice.delete_alias("churn", "staging")
    with pytest.raises(NotFound):
        alice.get("churn@staging")
    archived = alice.archive("churn:2")
    assert archived.status == "archived"
    assert alice.get("churn").version == 1  # latest skips archived versions
    assert alice.archive("churn:2", archived=False).status != "archived"


def _featurize(df):
    return df[["a", "b"]].to_numpy()


def test_register_in_the_client_and_load_back(service, remote, registered):
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    alice = remote(service, "alice").service("models")
    frame = pd.DataFrame({"a": [0.0, 1.0, 0.1, 0.9], "b": [1.0, 0.0, 0.8, 0.2]})
    model = DecisionTreeClassifier().fit(frame.to_numpy(), [0, 1, 0, 1])
    version = alice.register(
        "fraud-tree",
        model,
        featurize=_featurize,
        input_example=frame,
        metrics={"acc": 1.0},
        tags={"owner": "mallory"},
        alias="staging",
    )
    assert version.owner == "alice" and version.version == 1
    assert version.tags.get("owner") == "alice"  # the token's user, not the client's claim
    assert version.aliases == ["staging"] and version.signature
    assert {"parameters", "featurize"} <= {a["kind"] for a in version.artifacts}
    bob = remote(service, "bob").service("models")
    assert list(bob.load("fraud-tree@staging").predict(frame)) == [0, 1, 0, 1]
    with pytest.raises(PermissionDenied):  # a new version of alice's model
        bob.register("fraud-tree", model)
    assert bob.register("bobs-tree", model).owner == "bob"


def test_the_service_never_unpickles_what_a_client_uploads(service, registered):
    import hashlib
    import json
    import os
    import pickle

    import requests

    marker = service.tmp / "unpickled-on-the-service"

    class Payload:
        def __reduce__(self):
            return (os.makedirs, (str(marker),))

    data = pickle.dumps(Payload())
    meta = {
        "definition": {"module": "x", "class": "Y", "library": "python"},
        "parts": [
            {
                "name": "model.pkl",
                "kind": "parameters",
                "format": "cloudpickle",
                "loadable": True,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        ],
    }
    answer = requests.post(
        service.url + "mlinfra/api/models/evil/captured-versions",
        headers={"Authorization": f"token {service.token('bob')}"},
        data={"version": json.dumps(meta)},
        files=[("model.pkl", ("model.pkl", data))],
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["owner"] == "bob"
    assert not marker.exists()
    # a part whose bytes are not the ones described is refused, and nothing is stored
    bad = requests.post(
        service.url + "mlinfra/api/models/evil2/captured-versions",
        headers={"Authorization": f"token {service.token('bob')}"},
        data={"version": json.dumps(meta)},
        files=[("model.pkl", ("model.pkl", data + b"x"))],
        timeout=60,
    )
    assert bad.status_code == 400 and "sha-256" in bad.json()["error"]["message"].lower()
    assert service.get("mlinfra/api/models/evil2", user="bob").status_code == 404


def test_model_cli_in_remote_mode(service, cli, registered, tmp_path):
    listed = cli(service, "bob", "model", "list")
    assert listed.returncode == 0 and "churn" in listed.stdout, listed.stderr
    shown = cli(service, "bob", "model", "show", "churn:1")
    assert shown.returncode == 0 and "alice" in shown.stdout, shown.stderr
    refused = cli(service, "bob", "model", "alias", "churn", "production", "2")
    assert refused.returncode == 5 and "Traceback" not in refused.stderr
    compared = cli(service, "alice", "model", "compare", "churn:1", "churn:2")
    assert compared.returncode == 0, compared.stderr
    assert not (tmp_path / "cli-home-bob" / "catalog.db").exists()
