"""The feature store's read side in remote mode: views defined and materialized on the
service's catalog by alice (a public and a private view); bob and alice read them through
the service: list, describe, sample, online lookups, training frames."""

from __future__ import annotations

import pandas as pd
import pytest

from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied


@pytest.fixture(scope="module")
def views(service):
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace(resolve_config(environ={"MLINFRA_HOME": str(service.home)}), user="alice")
    fs = ws.service("features")
    fs.register_entity("customer", ["customer_id"])
    source = pd.DataFrame({"customer_id": [1, 1, 2],
                           "event_timestamp": pd.to_datetime(
                               ["2024-01-01", "2024-01-02", "2024-01-02"], utc=True),
                           "amount": [10.0, 30.0, 5.0]})
    fs.register_view("spend", entities="customer", source=source, visibility="public")
    fs.register_view("alice_secret", entities="customer", source=source,
                     visibility="private")
    for name in ("spend", "alice_secret"):
        fs.materialize(name)
    ws.close()


def test_list_describe_sample(service, remote, views):
    bob = remote(service, "bob").service("features")
    assert [v["name"] for v in bob.list_views()] == ["spend"]
    assert "customer" in [e["name"] for e in bob.list_entities()]
    info = bob.describe("spend")
    assert info["owner"] == "alice" and "amount" in str(info)
    assert len(bob.sample("spend", 2)) == 2
    with pytest.raises((NotFound, PermissionDenied)):
        bob.describe("alice_secret")
    alice = remote(service, "alice").service("features")
    assert {v["name"] for v in alice.list_views()} == {"spend", "alice_secret"}


def test_online_lookups_and_training_frames(service, remote, views):
    bob = remote(service, "bob").service("features")
    found = bob.get_online_features(["spend:amount"], [{"customer_id": 1},
                                                        {"customer_id": 3}])
    assert [r[found.feature_names[0]] for r in found.rows] == [30.0, None]
    assert [s[found.feature_names[0]] for s in found.status] == ["present", "not_found"]
    assert isinstance(found.event_times[0]["spend"], float)
    entity_df = pd.DataFrame({"customer_id": [1, 1, 2],
                              "event_timestamp": pd.to_datetime(
                                  ["2024-01-01T12:00", "2024-01-03T00:00", "2024-01-01T00:00"], utc=True)},
                             index=[10, 11, 12])
    frame = bob.get_training_frame(entity_df, ["spend:amount"])
    assert list(frame.index) == [10, 11, 12]
    assert frame["amount"].tolist()[:2] == [10.0, 30.0] and pd.isna(frame["amount"].iloc[2])
    assert frame.attrs["mlinfra_lineage"]["views"]
    with pytest.raises((NotFound, PermissionDenied)):
        bob.get_online_features(["alice_secret:amount"], [{"customer_id": 1}])


def test_what_runs_a_transform_is_refused_in_remote_mode(service, remote, views):
    bob = remote(service, "bob").service("features")
    for call in (lambda: bob.materialize("spend"), lambda: bob.push("spend", [{}]),
                 lambda: bob.register_view("x", entities="customer")):
        with pytest.raises(InvalidInput, match="does not do for remote callers"):
            call()


def test_feature_cli_in_remote_mode(service, cli, views, tmp_path):
    listed = cli(service, "bob", "feature", "list")
    assert listed.returncode == 0 and "spend" in listed.stdout, listed.stderr
    assert "alice_secret" not in listed.stdout
    described = cli(service, "bob", "feature", "describe", "spend")
    assert described.returncode == 0 and "amount" in described.stdout, described.stderr
    refused = cli(service, "bob", "feature", "materialize", "spend")
    assert refused.returncode == 2 and "does not do for remote callers" in refused.stderr
    assert not (tmp_path / "cli-home-bob" / "catalog.db").exists()
