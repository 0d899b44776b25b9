"""Feature view sources in remote mode, against a real service whose upload limit is small:
a DataFrame source is uploaded and kept by the service, so another process (a real one, and
another client) materializes the view and reads training frames; ``artifact:`` and ``job:``
sources resolve through the service; compaction and usage records are remote; an upload past
the limit is a 413 and a broken one a 400, leaving nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied

LIMIT = 20_000  # bytes: the service's features_source_max_bytes here

# a transform as a notebook defines it (in __main__: cloudpickle keeps it by value)
TRANSFORM = """\
def net_sales(df):
    out = df.copy()
    out["net"] = out["gross"] * 0.8
    return out[["store_id", "event_timestamp", "net"]]
"""


def _transform():
    namespace: dict = {"__name__": "__main__"}
    exec(TRANSFORM, namespace)
    return namespace["net_sales"]


SALES = pd.DataFrame(
    {
        "store_id": [1, 2, 1],
        "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"], utc=True),
        "gross": [10.0, 20.0, 30.0],
    }
)


@pytest.fixture(scope="module")
def service(service_kit, tmp_path_factory):
    svc = service_kit.start(
        tmp_path_factory.mktemp("sources"),
        extra_env={"MLINFRA_FEATURES_SOURCE_MAX_BYTES": str(LIMIT)},
    )
    yield svc
    service_kit.stop(svc)


def _define(fs, name="sales", source=SALES, **extra):
    return fs.register_view(
        name,
        entities="store",
        source=source,
        transform=_transform(),
        transform_source=TRANSFORM,
        visibility="public",
        **extra,
    )


def _entity_df():
    return pd.DataFrame(
        {
            "store_id": [1, 2],
            "event_timestamp": pd.to_datetime(["2024-01-03", "2024-01-03"], utc=True),
        }
    )


def test_a_dataframe_source_is_kept_and_another_process_materializes(service, remote, tmp_path):
    alice = remote(service, "alice").service("features")
    alice.register_entity("store", ["store_id"])
    defined = _define(alice)
    assert defined["source"]["kind"] == "dataframe"
    ref = defined["source"]["ref"]
    assert ref.startswith("artifact:features/sources/")

    # another client of alice's that never saw the DataFrame or the transform
    other = remote(service, "alice").service("features")
    done = other.materialize("sales", end="2024-01-02T00:00:00Z")
    assert done["rows"] == 2
    rows = other._table("features/views/sales/source", {}, "sales")
    pd.testing.assert_frame_equal(rows, SALES)

    # and a real other process (remote mode from its environment), then bob's frame
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLINFRA_", "JUPYTERHUB_"))}
    env.update(
        MLINFRA_SERVICE_URL=service.url,
        MLINFRA_SERVICE_TOKEN=service.token("alice"),
        MLINFRA_HOME=str(tmp_path / "process-home"),
    )
    script = (
        "import json\nfrom jupyter_mlinfra import features\n"
        "print(json.dumps(features.materialize('sales', end='2024-02-01T00:00:00Z'), default=str))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["rows"] == 1
    assert not (tmp_path / "process-home" / "catalog.db").exists()

    bob = remote(service, "bob").service("features")
    frame = bob.get_training_frame(_entity_df(), ["sales:net"])
    assert frame["net"].tolist() == [24.0, 16.0]
    # bob may read the view but not run its owner's transform to write it
    with pytest.raises(PermissionDenied):
        bob.materialize("sales")
    with pytest.raises(PermissionDenied):
        bob.push("sales", SALES)


def test_artifact_and_job_sources_resolve_through_the_service(service, remote):
    alice = remote(service, "alice").service("features")
    alice.register_entity("store", ["store_id"])
    ref = _define(alice)["source"]["ref"]
    # an uploaded source named by its artifact: reference, in another client
    other = remote(service, "alice").service("features")
    again = _define(other, "sales_copy", source=ref)
    assert again["source"] == {"kind": "artifact", "ref": ref}
    assert other.materialize("sales_copy", end="2024-02-01")["rows"] == 3

    # a job run's output: the job logs a table, a view reads it as job:<job>/<name>
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "etl",
                "metadata": {},
                "outputs": [],
                "source": "import pandas as pd\nimport jupyter_mlinfra\n"
                "df = pd.DataFrame({'store_id': [7], 'gross': [100.0],\n"
                "    'event_timestamp': pd.to_datetime(['2024-01-05'], utc=True)})\n"
                "jupyter_mlinfra.log_artifact('sales.parquet', df)",
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (service.root / "etl.ipynb").write_text(json.dumps(notebook))
    jobs = remote(service, "alice").service("jobs")
    jobs.create_job("etl", "etl.ipynb")
    run = jobs.run_job("etl", wait=True, timeout=300)
    assert run["state"] == "succeeded", run
    from_job = _define(alice, "sales_from_job", source="job:etl/sales.parquet")
    assert from_job["source"] == {"kind": "job", "ref": "job:etl/sales.parquet"}
    elsewhere = remote(service, "alice").service("features")
    assert elsewhere.materialize("sales_from_job", end="2024-02-01")["rows"] == 1
    found = elsewhere.get_online_features(["sales_from_job:net"], [{"store_id": 7}])
    assert found.rows[0][found.feature_names[0]] == 80.0

    # bob cannot read alice's private job's output, nor any other artifact of the service
    bob = remote(service, "bob").service("features")
    with pytest.raises((NotFound, PermissionDenied, InvalidInput)):
        _define(bob, "bobs", source="job:etl/sales.parquet")
    model_key = "artifact:models/anything/parameters.joblib"
    with pytest.raises(PermissionDenied, match="not source data"):
        _define(alice, "not_a_source", source=model_key)
    with pytest.raises(NotFound):
        alice.describe("not_a_source")


def _kept_sources(service) -> dict:
    """{key: size} of the source data the service's artifact store holds."""
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace(resolve_config(environ={"MLINFRA_HOME": str(service.home)}), user="alice")
    try:
        return {k: ws.artifacts.stat(k).size for k in ws.artifacts.list("features/sources")}
    finally:
        ws.close()


def test_uploads_past_the_limit_or_broken_leave_nothing(service, remote):
    import numpy as np

    alice = remote(service, "alice").service("features")
    alice.register_entity("store", ["store_id"])
    _define(alice, "alices_view")
    before = _kept_sources(service)
    # bob may not redefine alice's view: refused before his DataFrame is uploaded
    bob = remote(service, "bob").service("features")
    with pytest.raises(PermissionDenied):
        _define(bob, "alices_view", source=SALES.assign(gross=[1.0, 2.0, 3.0]))
    assert _kept_sources(service) == before
    rng = np.random.default_rng(0)
    big = pd.DataFrame(
        {
            "store_id": rng.integers(0, 1000, 5000),
            "event_timestamp": pd.Timestamp("2024-01-01", tz="UTC"),
            "gross": rng.random(5000),
        }
    )
    with pytest.raises(Exception) as refused:
        _define(alice, "too_big", source=big)
    assert getattr(refused.value, "http_status", None) == 413
    assert "features_source_max_bytes" in str(refused.value)
    with pytest.raises(NotFound):
        alice.describe("too_big")
    with pytest.raises(InvalidInput, match="parquet"):
        alice.client.call(
            "POST",
            "features/sources",
            data=b"not parquet at all",
            headers={"Content-Type": "application/octet-stream"},
        )
    uploads = Path(service.home) / "uploads"
    assert not uploads.exists() or not list(uploads.iterdir())
    assert _kept_sources(service) == before


def test_compact_usage_and_pages_are_remote(service, remote):
    alice = remote(service, "alice").service("features")
    alice.register_entity("store", ["store_id"])
    _define(alice, "sales_stream", source=None, schema={"store_id": "int64", "net": "float64"})
    for gross in (1.0, 2.0, 3.0):
        alice.push(
            "sales_stream",
            [
                {
                    "store_id": 1,
                    "gross": gross,
                    "event_timestamp": pd.Timestamp("2024-03-01", tz="UTC"),
                }
            ],
        )
    bob = remote(service, "bob").service("features")
    with pytest.raises(PermissionDenied):
        bob.compact("sales_stream")
    compacted = alice.compact("sales_stream")
    assert compacted["view"] == "sales_stream"
    assert compacted["files_before"] == 3 and compacted["files_after"] == 1
    assert alice.describe("sales_stream")["freshness"]["offline_files"] == 1

    frame = bob.get_training_frame(
        pd.DataFrame(
            {"store_id": [1], "event_timestamp": pd.to_datetime(["2024-03-02"], utc=True)}
        ),
        ["sales_stream:net"],
    )
    assert frame["net"].tolist() == [pytest.approx(2.4)]
    recorded = bob.record_usage(bob.lineage_of(frame), "model:bobs_model/1")
    assert recorded and recorded[0]["consumer"] == "model:bobs_model/1"
    assert "model:bobs_model/1" in json.dumps(alice.describe("sales_stream"), default=str)

    _define(alice, "sales_stream_b", source=None, schema={"store_id": "int64", "net": "float64"})
    page = bob.list_views_page(limit=1)
    assert len(page["items"]) == 1 and page["total"] >= 2 and page["next_cursor"]
    assert "store" in [e["name"] for e in bob.list_entities_page(limit=50)["items"]]
    view = bob.get_view("sales_stream")
    assert view.version == 1 and view.feature_names == ["net"] and view.source_kind == "push"


@pytest.fixture(scope="module")
def small_bodies(service_kit, tmp_path_factory):
    """A service that takes request bodies of at most 12,000 bytes."""
    svc = service_kit.start(
        tmp_path_factory.mktemp("small-bodies"),
        extra_env={"MLINFRA_MAX_REQUEST_BODY_BYTES": "12000"},
    )
    yield svc
    service_kit.stop(svc)


def test_computed_rows_larger_than_a_request_go_up_in_parts(small_bodies, remote):
    import numpy as np

    alice = remote(small_bodies, "alice").service("features")
    alice.register_entity("store", ["store_id"])
    n = 2000
    big = pd.DataFrame(
        {
            "store_id": np.arange(n),
            "event_timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(n), unit="min"),
            "gross": np.random.default_rng(1).random(n),
        }
    )
    _define(alice, "many", source=big)
    done = alice.materialize("many", end="2024-02-01")
    assert done["rows"] == n and done["files"] >= 2
    assert alice.materialize("many", end="2024-02-01")["rows"] == 0  # every part recorded
    entity_df = pd.DataFrame(
        {"store_id": [0, n - 1], "event_timestamp": pd.to_datetime(["2024-01-05"] * 2, utc=True)}
    )
    frame = alice.get_training_frame(entity_df, ["many:net"])
    expected = [big["gross"].iloc[0] * 0.8, big["gross"].iloc[n - 1] * 0.8]
    assert frame["net"].tolist() == pytest.approx(expected)
    pushed = alice.push("many", big.assign(event_timestamp=pd.Timestamp("2024-01-10", tz="UTC")))
    assert pushed["rows"] == n
    assert "413" in small_bodies.log.read_text()  # the service did refuse the whole
