"""``features.get_training_frame`` from a new process on a SQLite catalog reads the catalog
with sqlite3 (no SQLAlchemy import) and answers exactly what the feature service answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from feature_data import workspace_for

FRAME = """
import json, sys
import pandas as pd
from jupyter_mlinfra import features
entity = pd.DataFrame({
    "customer_id": [1, 2, 3, 9, 1],
    "event_timestamp": pd.to_datetime(
        ["2024-01-02 00:00", "2024-01-06 00:00", "2024-01-02 00:00", "2024-01-02 00:00", "2024-01-04 10:00"], utc=True),
})
refs = ["spend:amount", "spend:amount_x2", "spend:country"]
try:
    frame = features.get_training_frame(entity, refs)
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    sys.exit(0)
fast_imported_sqlalchemy = "sqlalchemy" in sys.modules
from jupyter_mlinfra.core.workspace import get_workspace
service = get_workspace().service("features").get_training_frame(entity, refs)
print(json.dumps({
    "sqlalchemy": fast_imported_sqlalchemy,
    "frame": frame.to_json(date_format="iso"),
    "same": frame.equals(service) and list(frame.dtypes) == list(service.dtypes),
    "lineage_views": frame.attrs["mlinfra_lineage"]["views"],
    "service_lineage_views": service.attrs["mlinfra_lineage"]["views"],
}))
"""


def new_process(code: str, **env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def materialized(spend_view):
    spend_view.materialize("spend", end=pd.Timestamp("2024-02-01", tz="UTC"))
    return spend_view


def test_the_first_frame_of_a_process_skips_the_catalog_layer_and_matches(materialized):
    out = new_process(FRAME)
    assert out["sqlalchemy"] is False
    assert out["same"] is True
    assert out["lineage_views"] == out["service_lineage_views"]
    frame = pd.read_json(__import__("io").StringIO(out["frame"]))
    assert frame["amount"].tolist()[:3] == [10.0, 7.0, 1.0]
    assert pd.isna(frame["amount"].tolist()[3])  # unknown customer


def test_a_private_view_of_another_user_stays_hidden(materialized):
    out = new_process(FRAME, USER="mallory", MLINFRA_USER="mallory")
    assert out == {"error": "NotFound", "message": "no feature view 'spend'"}


def test_later_writes_in_the_same_process_are_seen(materialized, workspace):
    from jupyter_mlinfra.core.features import reading

    entity = pd.DataFrame(
        {"customer_id": [4], "event_timestamp": [pd.Timestamp("2024-01-10", tz="UTC")]}
    )
    fresh = workspace_for(workspace.user)  # as a new process's: no feature service yet
    try:
        first = reading.get_training_frame(fresh, entity, ["spend:amount"], None, False)
        assert pd.isna(first["amount"].iloc[0])
        assert set(fresh._services) == {reading.FAST_FRAMES}  # answered without the service
        materialized.push(
            "spend",
            [
                {
                    "customer_id": 4,
                    "event_timestamp": pd.Timestamp("2024-01-09", tz="UTC"),
                    "amount": 3.5,
                    "country": "es",
                }
            ],
        )
        again = reading.get_training_frame(fresh, entity, ["spend:amount"], None, False)
        assert again["amount"].tolist() == [3.5]
    finally:
        fresh.close()
