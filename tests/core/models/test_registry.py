"""The model store's core: the eight artifact kinds, integrity, aliases, search, load, compare."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from model_data import featurize, predict_labels

from jupyter_mlinfra.core.artifacts import LocalArtifactStore
from jupyter_mlinfra.core.artifacts.base import blob_path
from jupyter_mlinfra.core.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from jupyter_mlinfra.core.models.capture import SessionContext
from jupyter_mlinfra.core.models.service import (
    DirtyModelWarning,
    EnvironmentMismatchWarning,
    ModelStore,
)
from jupyter_mlinfra.core.models.tables import ModelVersionRecord


def _git(cwd, *args):
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x",
        },
    )


def test_register_keeps_the_eight_kinds_of_artifact(ws, iris, fitted, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a git repository holding the "notebook", with an uncommitted change
    repo = tmp_path / "project"
    repo.mkdir()
    (repo / "train.ipynb").write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "train.ipynb")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "train.ipynb").write_text(
        '{"cells": [], "metadata": {"x": 1}, "nbformat": 4, "nbformat_minor": 5}'
    )
    monkeypatch.chdir(repo)
    monkeypatch.setenv("MLINFRA_RUN_ID", "run-123")
    valid_csv = repo / "valid.csv"
    iris.tail(30).to_csv(valid_csv, index=False)
    train = iris.copy()
    train.attrs["mlinfra_lineage"] = {
        "features": ["flowers@2:petal_area"],
        "views": [{"name": "flowers", "version": 2}],
    }
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    ax.set_title("loss")
    notes = repo / "notes.md"
    notes.write_text("trained on iris\n")
    history = [
        "import pandas as pd",
        "# Parameters\nC = 0.7\nmax_iter = 500\n",
        "def featurize(df):\n    return df\n",
    ]

    with pytest.warns(UserWarning, match="feature usage"):  # no view 'flowers' here
        v = ws.service("models").register(
            "iris",
            fitted,
            featurize=featurize,
            predict=predict_labels,
            input_example=iris.head(3),
            training_data=train,
            validation_data=str(valid_csv),
            metrics={"accuracy": 0.97},
            figures=[fig],
            files=[str(notes)],
            tags={"team": "botany"},
            task="classification",
            description="first try",
            context=SessionContext(history=history, notebook_path="train.ipynb"),
        )
    plt.close(fig)
    assert (v.name, v.version) == ("iris", 1)
    by_name = {a["name"]: a for a in v.artifacts}
    # 1. definition
    assert v.definition["class"] == "LogisticRegression"
    assert v.definition["distribution"] == "scikit-learn"
    assert v.definition["hyperparameters"]["C"] == 0.7
    # 2. parameters
    assert by_name["model.joblib"]["format"] == "joblib"
    # 3. functions: callables and readable source
    assert {"featurize.pkl", "predict.pkl", "functions.py"} <= set(by_name)
    source = ws.service("models").read_artifact(v, "functions.py").decode()
    assert 'out["petal_area"] = out["petal_length"] * out["petal_width"]' in source
    assert "def predict_labels(model, X):" in source
    # 4. dependencies
    assert v.dependencies["packages"]["scikit-learn"]
    assert "pandas" in v.dependencies["packages"]  # featurize's globals use pandas objects
    assert v.dependencies["python"] == ".".join(map(str, sys.version_info[:3]))
    lock = ws.service("models").read_artifact(v, "environment-lock.txt").decode()
    assert "numpy==" in lock and "scikit-learn==" in lock
    # 5. data
    roles = {d["role"]: d for d in v.data}
    assert roles["training"]["rows"] == len(iris)
    assert roles["training"]["schema"]["sepal_length"] == "float64"
    assert len(roles["training"]["content_sha256"]) == 64
    assert roles["training"]["lineage"]["features"] == ["flowers@2:petal_area"]
    assert roles["validation"]["uri"].startswith("file://")
    assert roles["validation"]["size"] == valid_csv.stat().st_size
    # 6. generating code
    assert by_name["notebook.ipynb"]["kind"] == "notebook"
    assert v.code["git"]["dirty"] is True and len(v.code["git"]["commit"]) == 40
    assert v.code["run_id"] == "run-123" and v.run_id == "run-123"
    assert v.code["parameters"] == {"C": 0.7, "max_iter": 500}
    assert v.code["replay_origin"] == "session history"
    # 7. experiment artifacts
    png = ws.service("models").read_artifact(v, "figure-1-loss.png")
    assert png.startswith(b"\x89PNG")
    assert ws.service("models").read_artifact(v, "files/notes.md") == b"trained on iris\n"
    assert v.metrics == {"accuracy": 0.97}
    # 8. tags
    assert v.tags == {"team": "botany", "task": "classification", "owner": ws.user}
    # signature
    assert [c["name"] for c in v.signature["inputs"]["columns"]][:2] == [
        "sepal_length",
        "sepal_width",
    ]
    assert v.signature["outputs"]["type"] == "ndarray"
    assert len(v.signature["input_example"]) == 3


def test_bad_input_leaves_nothing(ws, fitted, iris):
    store = ws.service("models")
    with pytest.raises(InvalidInput):
        store.register("bad name!", fitted)
    with pytest.raises(InvalidInput):
        store.register("iris", fitted, metrics={"acc": "high"})
    with pytest.raises(InvalidInput, match="input example"):
        store.register("iris", fitted, input_example=iris[["sepal_length"]])
    with pytest.raises(NotFound):
        store.get("iris")
    status = store.status()
    assert (status["models"], status["versions"]) == (0, 0)


def test_round_trip_and_checksums_on_both_backends(backend_ws, fitted, iris):
    store = backend_ws.service("models")
    v = store.register(
        "iris",
        fitted,
        featurize=featurize,
        input_example=iris.head(),
        metrics={"accuracy": 0.97},
        alias="production",
    )
    loaded = store.load("iris@production")
    assert loaded.ref == "iris:1"
    import numpy as np

    assert isinstance(loaded.model.coef_, np.memmap)  # mapped from the verified file
    assert loaded.model.coef_.flags.writeable  # copy-on-write, not read-only
    expected = fitted.predict(featurize(iris))
    assert (loaded.predict(iris) == expected).all()
    assert (store.load("iris").predict(iris.head(10)) == expected[:10]).all()
    with pytest.raises(InvalidInput, match="petal_width"):
        loaded.predict(iris.drop(columns=["petal_width"]))
    if backend_ws.backend_kind == "postgres+s3":  # batch prediction from and to S3 URLs
        import io

        import boto3

        bucket = backend_ws.artifacts.bucket
        client = boto3.client("s3", endpoint_url=backend_ws.config.s3_endpoint_url)
        buffer = io.BytesIO()
        iris.to_parquet(buffer)
        client.put_object(Bucket=bucket, Key="in/iris.parquet", Body=buffer.getvalue())
        # as a job run: a fresh kernel reads and writes the bucket through the same endpoint
        result = store.batch_predict(
            "iris@production",
            f"s3://{bucket}/in/iris.parquet",
            f"s3://{bucket}/out/pred.csv",
            as_job=True,
            timeout=120,
        )
        assert result["rows"] == 150 and "run" in result["executed_by"]
        body = client.get_object(Bucket=bucket, Key="out/pred.csv")["Body"].read()
        assert pd.read_csv(io.BytesIO(body))["prediction"].tolist() == expected.tolist()
    # corrupt the stored parameters: loading refuses instead of unpickling other bytes
    artifacts = backend_ws.artifacts
    entry = v.artifact("model.joblib")
    path = blob_path(entry["sha256"])
    if isinstance(artifacts, LocalArtifactStore):
        target = artifacts.root / path
        data = bytearray(target.read_bytes())
        data[100] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        body = artifacts.client.get_object(Bucket=artifacts.bucket, Key=artifacts._key(path))[
            "Body"
        ].read()
        artifacts.client.put_object(
            Bucket=artifacts.bucket, Key=artifacts._key(path), Body=body[:100] + b"X" + body[101:]
        )
    # (a store that has not loaded it yet: this one keeps what it loaded from verified bytes)
    with pytest.raises(IntegrityError):
        ModelStore(backend_ws).load("iris:1")
    # a key re-pointed at other (valid) bytes is refused too: the catalog's checksum rules
    artifacts.put(entry["key"], b"not the model")
    with pytest.raises(IntegrityError, match="replaced"):
        ModelStore(backend_ws).load("iris:1")


CONCURRENT = textwrap.dedent("""
    import sys
    from sklearn.dummy import DummyClassifier
    from jupyter_mlinfra.core.workspace import Workspace
    ws = Workspace.open()
    store = ws.service("models")
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    got = [store.register("shared", model, metrics={"worker": int(sys.argv[1])},
                          figures=[]).version for _ in range(int(sys.argv[2]))]
    print(" ".join(map(str, got)))
""")


def test_concurrent_registrations_get_unique_gapless_versions(backend_ws):
    env = {k: v for k, v in os.environ.items()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(i), "4"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    numbers = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        numbers += [int(x) for x in out.split()]
    assert sorted(numbers) == list(range(1, 13))
    versions = backend_ws.service("models").describe_model("shared")["versions"]
    assert sorted(v.version for v in versions) == list(range(1, 13))


CRASH = textwrap.dedent("""
    import os, signal
    from sklearn.dummy import DummyClassifier
    from jupyter_mlinfra.core.workspace import Workspace
    from jupyter_mlinfra.core.models.registry import ModelRegistry
    real = ModelRegistry.lock_model
    def dying(self, s, name, description=""):
        row = real(self, s, name, description)
        s.flush()
        os.kill(os.getpid(), signal.SIGKILL)   # mid-transaction, artifacts already written
    ModelRegistry.lock_model = dying
    store = Workspace.open().service("models")
    store.register("crashy", DummyClassifier().fit([[0], [1]], [0, 1]), figures=[])
""")


def test_crash_mid_registration_leaves_no_visible_version(ws):
    result = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    store = ws.service("models")
    with pytest.raises(NotFound):
        store.get("crashy")
    assert store.search("crashy") == []
    from sklearn.dummy import DummyClassifier

    v = store.register("crashy", DummyClassifier().fit([[0], [1]], [0, 1]), figures=[])
    assert v.version == 1  # no gap left by the crashed attempt


def test_aliases_move_atomically_and_protection(ws, fitted, mlinfra_env):
    from sklearn.dummy import DummyClassifier

    store = ws.service("models")
    dummy = DummyClassifier().fit([[0], [1]], [0, 1])
    for _ in range(3):
        store.register("m", dummy, figures=[])
    store.set_alias("m", "staging", 1)
    assert store.get("m@staging").version == 1
    store.set_alias("m", "staging", 2)
    assert store.get("m@staging").version == 2
    store.set_alias("m", "production", "staging", protected=True)  # alias -> alias
    assert store.get("m@production").version == 2
    assert store.get("m:2").aliases == ["production", "staging"]
    bob = ws.for_user("bob").service("models")
    with pytest.raises(PermissionDenied, match="protected"):
        bob.set_alias("m", "production", 3)
    with pytest.raises(PermissionDenied):
        bob.delete_alias("m", "production")
    with pytest.raises(PermissionDenied):
        bob.register("m", dummy, alias="production", figures=[])
    assert store.get("m@production").version == 2
    assert store.status()["versions"] == 3  # bob's refused registration left nothing
    bob.set_alias("m", "staging", 3)  # unprotected aliases move for anyone
    store.set_alias("m", "production", 3)  # the owner moves the protected one
    assert store.get("m@production").version == 3
    with pytest.raises(Conflict, match="alias"):
        store.archive("m:3")
    store.archive("m:1")
    with pytest.raises(Conflict, match="archived"):
        store.set_alias("m", "old", 1)
    store.delete_alias("m", "staging")
    with pytest.raises(NotFound):
        store.get("m@staging")
    with pytest.raises(InvalidInput):
        store.set_alias("m", "latest", 1)


def test_latest_skips_archived_and_search_filters(ws):
    from sklearn.dummy import DummyClassifier

    store = ws.service("models")
    dummy = DummyClassifier().fit([[0], [1]], [0, 1])
    store.register("churn", dummy, metrics={"auc": 0.81}, tags={"team": "growth"}, figures=[])
    store.register("churn", dummy, metrics={"auc": 0.93}, tags={"team": "growth"}, figures=[])
    store.register("fraud", dummy, metrics={"auc": 0.88}, tags={"team": "risk"}, figures=[])
    ws.for_user("carol").service("models").register(
        "churn-eu", dummy, metrics={"auc": 0.95}, figures=[]
    )
    assert store.get("churn").version == 2
    store.archive("churn:2")
    assert store.get("churn").version == 1
    assert [v.ref for v in store.search("churn", metrics=["auc>=0.9"])] == ["churn-eu:1"]
    assert [v.ref for v in store.search("churn", metrics=["auc>=0.9"], include_archived=True)] == [
        "churn-eu:1",
        "churn:2",
    ]
    assert [v.ref for v in store.search(tags={"team": "risk"})] == ["fraud:1"]
    assert [v.ref for v in store.search(owner="carol")] == ["churn-eu:1"]
    assert [v.ref for v in store.search(metrics=["auc>0.8", "auc<0.9"])] == ["fraud:1", "churn:1"]
    names = [m["name"] for m in store.list_models(metrics=["auc>=0.85"])]
    assert names == ["churn-eu", "fraud"]
    with pytest.raises(InvalidInput):
        store.search(metrics=["auc is great"])
    store.update("churn", description="who leaves", tags={"domain": "crm"})
    assert store.describe_model("churn")["description"] == "who leaves"
    assert [v.ref for v in store.search(tags={"domain": "crm"})] == ["churn:1"]
    store.archive("churn:2", archived=False)
    assert store.get("churn").version == 2


def test_load_warns_about_environment_differences(ws, fitted):
    store = ws.service("models")
    v = store.register("iris", fitted, figures=[])
    with ws.catalog.session() as s:
        record = s.get(ModelVersionRecord, v.id)
        deps = dict(record.dependencies)
        deps["packages"] = {**deps["packages"], "scikit-learn": "0.1.0", "no-such-dist": "1.0"}
        deps["python"] = "2.7.18"
        record.dependencies = deps
    with pytest.warns(EnvironmentMismatchWarning) as caught:
        loaded = store.load("iris:1")
    message = str(caught[0].message)
    assert "scikit-learn 0.1.0 recorded" in message
    assert "no-such-dist 1.0 recorded, not installed here" in message
    assert "python 2.7.18 recorded" in message
    assert len(loaded.environment_differences) == 3


def test_dirty_state_is_recorded_and_require_clean_refuses(ws, fitted, monkeypatch):
    store = ws.service("models")
    context = SessionContext(
        replay={
            "cells": [{"cell_id": "a", "execution_count": 3, "source": "model = fit(X)"}],
            "hazards": [
                {
                    "kind": "stale_direct",
                    "message": "cell a reads X, changed by cell b after it ran",
                }
            ],
        }
    )
    with pytest.warns(DirtyModelWarning, match="stale_direct"):
        v = store.register("iris", fitted, context=context, figures=[])
    assert v.clean is False and "stale_direct" in v.dirty_reasons[0]
    assert v.code["replay_origin"] == "provenance"
    assert store.read_artifact(v, "replay.py").decode().count("model = fit(X)") == 1
    with pytest.raises(Conflict, match="refusing"):
        store.register("iris", fitted, context=context, require_clean=True, figures=[])
    monkeypatch.setenv("MLINFRA_MODELS_REQUIRE_CLEAN", "true")
    from jupyter_mlinfra.core.workspace import Workspace

    strict = Workspace.open()
    with pytest.raises(Conflict):
        strict.service("models").register("iris", fitted, context=context, figures=[])
    assert store.get("iris").version == 1
    clean = strict.service("models").register("iris", fitted, figures=[])
    assert clean.clean is True and clean.version == 2
    strict.close()


def test_compare_two_versions(ws, iris):
    from sklearn.linear_model import LogisticRegression

    store = ws.service("models")
    X = featurize(iris)
    a = LogisticRegression(C=0.5, max_iter=400).fit(X, iris["target"])
    b = LogisticRegression(C=2.0, max_iter=400).fit(X, iris["target"])
    store.register(
        "iris",
        a,
        training_data=iris.head(100),
        metrics={"accuracy": 0.9},
        context=SessionContext(history=["C = 0.5", "model = fit(C)"]),
        figures=[],
    )
    store.register(
        "iris",
        b,
        training_data=iris,
        metrics={"accuracy": 0.96},
        context=SessionContext(history=["C = 2.0", "model = fit(C)"]),
        figures=[],
    )
    diff = store.compare("iris:1", "iris:2")
    assert diff["hyperparameters"] == {"C": {"a": 0.5, "b": 2.0}}
    assert diff["metrics"]["accuracy"]["delta"] == pytest.approx(0.06)
    assert diff["data"]["training"]["differences"]["rows"] == {"a": 100, "b": 150}
    assert "-C = 0.5" in diff["code"]["diff"] and "+C = 2.0" in diff["code"]["diff"]
    assert diff["dependencies"] == {}


def test_batch_predict_and_dockerfile(ws, fitted, iris, tmp_path):
    store = ws.service("models")
    store.register(
        "iris",
        fitted,
        featurize=featurize,
        input_example=iris.drop(columns=["target"]).head(),
        alias="production",
        figures=[],
    )
    src = tmp_path / "in.parquet"
    iris.drop(columns=["target"]).to_parquet(src)
    result = store.batch_predict(
        "iris@production", str(src), str(tmp_path / "out.csv"), as_job=False
    )
    assert result["rows"] == 150 and result["executed_by"] == "in-process"
    out = pd.read_csv(tmp_path / "out.csv")
    assert (out["prediction"].to_numpy() == fitted.predict(featurize(iris))).all()
    assert list(out.columns[:2]) == ["sepal_length", "sepal_width"]
    iris.drop(columns=["target"]).to_csv(tmp_path / "in.csv", index=False)
    store.batch_predict(
        "iris:1", str(tmp_path / "in.csv"), str(tmp_path / "out.parquet"), as_job=False
    )
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 150
    with pytest.raises(InvalidInput):
        store.batch_predict(
            "iris:1", str(tmp_path / "in.csv"), str(tmp_path / "out.xlsx"), as_job=False
        )
    info = store.dockerfile("iris@production", str(tmp_path / "image"))
    dockerfile = (tmp_path / "image" / "Dockerfile").read_text()
    requirements = (tmp_path / "image" / "requirements.txt").read_text().splitlines()
    py = ".".join(map(str, sys.version_info[:2]))
    assert f"FROM python:{py}-slim" in dockerfile
    assert '"serve", "iris@production"' in dockerfile
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in requirements
    assert f"pandas=={pd.__version__}" in requirements
    assert all("==" in line for line in requirements if not line.startswith("#"))
    assert info["pinned"] == len([r for r in requirements if "==" in r])
    # jupyter_mlinfra comes from the index, or from a wheel put beside the Dockerfile
    from jupyter_mlinfra import __version__

    assert f"ARG MLINFRA_PACKAGE=jupyter_mlinfra=={__version__}" in dockerfile
    assert not any(r.startswith("jupyter_mlinfra") for r in requirements)


def test_model_card_html(ws, fitted):
    store = ws.service("models")
    store.register("iris", fitted, metrics={"accuracy": 0.97}, alias="production", figures=[])
    store.register("iris", fitted, metrics={"accuracy": 0.98}, figures=[])
    html = store.card("iris")._repr_html_()
    assert "Model iris" in html and "@production" in html and "0.98" in html
    assert "accuracy" in html
    assert "LogisticRegression" in store.get("iris:1")._repr_html_()
    assert "2        ready" in repr(store.card("iris"))


def test_model_card_names_the_feature_views_it_was_trained_on(ws, fitted, iris):
    import warnings

    frame = iris.copy()
    frame.attrs["mlinfra_lineage"] = {
        "views": [{"name": "petals", "version": 2}],
        "features": ["petals@2:width"],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the view is not in this catalog: no back-link
        version = ws.service("models").register("iris-fs", fitted, training_data=frame, figures=[])
    assert "feature views petals@2" in version._repr_html_()


def test_artifact_store_prehashed_put_and_expected_checksum(ws):
    """The two artifact-store options the model store uses on its hot path."""
    import hashlib

    data = b"serialized model bytes" * 1000
    digest = hashlib.sha256(data).hexdigest()
    info = ws.artifacts.put("m/prehashed", data, sha256=digest)
    assert info.sha256 == digest and ws.artifacts.get("m/prehashed") == data
    assert ws.artifacts.get("m/prehashed", expected_sha256=digest) == data
    with pytest.raises(IntegrityError, match="replaced"):
        ws.artifacts.get("m/prehashed", expected_sha256="0" * 64)
    # a wrong digest from a buggy caller is caught on the first read
    ws.artifacts.put("m/lying", b"other bytes", sha256="a" * 64)
    with pytest.raises(IntegrityError):
        ws.artifacts.get("m/lying")


def _lightgbm_native(model, raw: bytes, X):
    import lightgbm

    return lightgbm.Booster(model_str=raw.decode()).predict(X)


def _xgboost_native(model, raw: bytes, X):
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster.predict(xgboost.DMatrix(X))


NATIVE_CASES = {
    "lightgbm": (
        "lightgbm-text",
        "model.lgb.txt",
        "lightgbm",
        lambda: __import__("lightgbm").LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1),
        _lightgbm_native,
        1e-12,
    ),
    # float32 trees: XGBoost's own predictions agree to float32 precision
    "xgboost": (
        "xgboost-ubj",
        "model.xgb.ubj",
        "xgboost-cpu",
        lambda: __import__("xgboost").XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1),
        _xgboost_native,
        1e-6,
    ),
}


@pytest.mark.parametrize("library", sorted(NATIVE_CASES))
def test_native_format_is_kept_beside_the_pickle(ws, iris, library):
    """A LightGBM or XGBoost model keeps the library's own format too, loadable by the
    library alone (no Python pickle): the same predictions as the fitted object. Its exact
    distribution is pinned among the dependencies."""
    fmt, name, distribution, make, native_predict, tolerance = NATIVE_CASES[library]
    X = featurize(iris)
    model = make().fit(X, iris["target"])
    store = ws.service("models")
    v = store.register(f"iris-{library}", model, featurize=featurize, input_example=iris.head())
    assert v.definition["library"] == library
    native = v.artifact(name)
    assert native["kind"] == "native" and native["format"] == fmt
    predicted = native_predict(model, store.read_artifact(v, name), X)
    assert abs(predicted - model.predict_proba(X)).max() < tolerance
    assert (store.load(f"iris-{library}").predict(iris) == model.predict(X)).all()
    assert distribution in v.dependencies["packages"]


def test_load_removes_spool_files_a_crash_left_behind(ws, fitted):
    store = ws.service("models")
    store.register("spooled", fitted, figures=[])
    cache = ws.config.home / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    stale, fresh = cache / "mlinfra-old.blob", cache / "mlinfra-new.blob"
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"another process downloading now")
    os.utime(stale, (0, 0))
    store.load("spooled")
    assert not stale.exists() and fresh.exists()


def test_a_versions_description_and_unicode_digits_as_versions(ws, fitted):
    """Updating one version's description works; a version written with digits other than
    0-9 (a superscript, found by the REST fuzzer as a 500) is a clear InvalidInput."""
    store = ws.service("models")
    store.register("digits", fitted, figures=[])
    store.update("digits", version=1, description="first of its kind")
    assert store.get("digits:1").description == "first of its kind"
    for bad in ("\u00b3", "\u0663", "1.5", "0"):
        with pytest.raises(InvalidInput):
            store.set_alias("digits", "champion", bad)
    assert store.set_alias("digits", "champion", " 1 ")["version"] == 1
