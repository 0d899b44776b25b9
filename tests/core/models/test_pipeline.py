"""The registration pipeline in two halves (capture in one process, store in another, the
captured version crossing as JSON plus bytes) and the native-format exporters registry
extended by an entry point."""

from __future__ import annotations

import json
import textwrap

import pytest
from model_data import featurize

from jupyter_mlinfra.core.errors import InvalidInput, NotFound
from jupyter_mlinfra.core.models import pipeline
from jupyter_mlinfra.core.models.exporters import ENTRY_POINT_GROUP, EXPORTERS
from jupyter_mlinfra.core.models.pipeline import CapturedVersion


def _over_the_wire(captured: CapturedVersion) -> tuple[dict, dict[str, bytes]]:
    """What a kernel sends to a central service: the manifest as JSON text, the bytes apart."""
    manifest = json.loads(json.dumps(captured.manifest()))
    return manifest, {part.name: bytes(part.data) for part in captured.parts}


def test_a_version_captured_here_is_stored_from_its_manifest_and_loads(ws, iris, fitted):
    captured = pipeline.capture(
        "wired",
        fitted,
        featurize=featurize,
        input_example=iris.head(3),
        training_data=iris,
        metrics={"accuracy": 0.9},
        tags={"team": "a"},
        alias="staging",
        figures=[],
    )
    store = ws.service("models")
    with pytest.raises(NotFound):  # capturing wrote nothing
        store.get("wired")
    manifest, blobs = _over_the_wire(captured)
    assert {p["name"] for p in manifest["parts"]} >= {
        "model.joblib",
        "featurize.pkl",
        "requirements.txt",
    }
    version = store.store(CapturedVersion.from_manifest(manifest, blobs))
    assert version.ref == "wired:1" and version.aliases == ["staging"]
    assert version.metrics == {"accuracy": 0.9} and version.tags["team"] == "a"
    assert version.tags["owner"] == ws.user
    assert version.data[0]["rows"] == len(iris)
    loaded = store.load("wired@staging")
    assert list(loaded.predict(iris.head(5))) == list(fitted.predict(featurize(iris.head(5))))


def test_a_manifest_that_does_not_match_its_bytes_stores_nothing(ws, fitted):
    captured = pipeline.capture("tampered", fitted, figures=[])
    manifest, blobs = _over_the_wire(captured)
    with pytest.raises(InvalidInput, match="does not match its SHA-256"):
        CapturedVersion.from_manifest(manifest, {**blobs, "model.joblib": b"not the model"})
    with pytest.raises(InvalidInput, match="unknown field"):
        CapturedVersion.from_manifest({**manifest, "owner": "mallory"}, blobs)
    bad = {
        **manifest,
        "parts": [*manifest["parts"], {"name": "../escape", "kind": "file", "format": "file"}],
    }
    with pytest.raises(InvalidInput, match="invalid artifact name"):
        CapturedVersion.from_manifest(bad, {**blobs, "../escape": b"x"})
    with pytest.raises(NotFound):
        ws.service("models").get("tampered")


EXPORTER_MODULE = textwrap.dedent('''
    from jupyter_mlinfra.core.models.capture import SerializedPart
    from jupyter_mlinfra.core.models.exporters import ModelExporter


    class TableModel:
        """A model its library saves as CSV."""

        def __init__(self, weights):
            self.weights = weights

        def predict(self, X):
            return [sum(w * x for w, x in zip(self.weights, row)) for row in X]


    class TableExporter(ModelExporter):
        def accepts(self, model):
            return type(model).__name__ == "TableModel"

        def export(self, model):
            text = ",".join(str(w) for w in model.weights) + "\\n"
            return SerializedPart("model.weights.csv", "native", text.encode(), "weights-csv",
                                  "text/csv", loadable=False)
''')


def test_a_third_party_exporter_declared_by_entry_point_writes_the_native_part(
    ws, tmp_path, monkeypatch
):
    # a distribution on the path declaring an exporter, as `pip install` would leave it
    (tmp_path / "table_models.py").write_text(EXPORTER_MODULE)
    dist_info = tmp_path / "table_models-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: table-models\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ntable = table_models:TableExporter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import table_models

    EXPORTERS.register_entry_points()
    try:
        assert "table" in EXPORTERS.names()
        version = ws.service("models").register(
            "tables", table_models.TableModel([1, 2]), figures=[]
        )
        native = version.artifact("model.weights.csv")
        assert native["kind"] == "native" and native["format"] == "weights-csv"
        assert ws.service("models").read_artifact(version, "model.weights.csv") == b"1,2\n"
        # the pickle is still what load reads
        assert ws.service("models").load("tables").predict([[1, 1]]) == [3]
    finally:
        EXPORTERS.unregister("table")


def test_compare_is_a_function_of_two_versions_and_their_scripts():
    from jupyter_mlinfra.core.models.compare import compare_versions
    from jupyter_mlinfra.core.models.versions import ModelVersion

    def version(number, C, auc, script_line):
        return ModelVersion(
            name="churn",
            version=number,
            id=str(number),
            owner="a",
            status="ready",
            created_at=None,
            definition={
                "class": "LogisticRegression",
                "module": "sklearn.linear_model",
                "hyperparameters": {"C": C},
            },
            metrics={"auc": auc},
            dependencies={"python": "3.11", "packages": {"x": "1"}},
            data=[{"role": "training", "kind": "dataframe", "rows": 10}],
        ), script_line

    (a, script_a), (b, script_b) = (
        version(1, 1.0, 0.8, "C = 1.0\n"),
        version(2, 0.5, 0.9, "C = 0.5\n"),
    )
    result = compare_versions(a, b, replay=(script_a, script_b))
    assert result["hyperparameters"] == {"C": {"a": 1.0, "b": 0.5}}
    assert result["metrics"]["auc"]["delta"] == pytest.approx(0.1)
    assert result["data"]["training"]["same"] is True
    assert "-C = 1.0" in result["code"]["diff"] and "+C = 0.5" in result["code"]["diff"]
    assert result["code"]["functions_diff"] == "" and result["dependencies"] == {}
