"""Definitions, versions, discovery and visibility of feature views."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from feature_data import double_amount, spend_source, workspace_for

from jupyter_mlinfra.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from jupyter_mlinfra.core.features.definitions import FeatureRef, format_ttl, parse_ttl


def test_ttl_accepts_the_usual_spellings():
    assert parse_ttl("2d") == 172800
    assert parse_ttl("1d12h") == 129600
    assert parse_ttl("90m") == 5400
    assert parse_ttl(timedelta(hours=3)) == 10800
    assert parse_ttl(None) is None and parse_ttl("0") is None
    assert format_ttl(129600) == "1d12h"
    with pytest.raises(InvalidInput):
        parse_ttl("two days")
    with pytest.raises(InvalidInput):
        parse_ttl("2d banana")


def test_feature_references():
    assert FeatureRef.parse("spend:amount") == FeatureRef("spend", "amount")
    assert FeatureRef.parse("spend@2:*") == FeatureRef("spend", "*", 2)
    with pytest.raises(InvalidInput):
        FeatureRef.parse("spend.amount")


def test_register_infers_schema_and_reregistering_is_a_noop(spend_view):
    fs = spend_view
    view = fs.get_view("spend")
    assert view.version == 1
    assert view.join_keys == {"customer_id": "int64"}
    assert [(f.name, f.dtype) for f in view.features] == [
        ("amount", "float64"),
        ("country", "string"),
        ("amount_x2", "float64"),
    ]
    again = fs.register_view(
        "spend", entities="customer", source=spend_source(), transform=double_amount, ttl="2d"
    )
    assert again["version"] == 1 and again["created"] is False and again["changed"] == []
    assert 'df["amount_x2"] = df["amount"] * 2' in view.transform_source


def test_changed_transform_or_schema_makes_a_new_version(spend_view):
    fs = spend_view

    def triple(df):
        df["amount_x2"] = df["amount"] * 3
        return df

    second = fs.register_view(
        "spend", entities="customer", source=spend_source(), transform=triple, ttl="2d"
    )
    assert second["version"] == 2 and second["created"]

    def with_flag(df):
        df["amount_x2"] = df["amount"] * 3
        df["big"] = df["amount"] > 6
        return df

    third = fs.register_view(
        "spend", entities="customer", source=spend_source(), transform=with_flag, ttl="2d"
    )
    assert third["version"] == 3
    assert {"name": "big", "dtype": "bool"} in third["features"]
    # Metadata changes stay on the same version.
    meta = fs.register_view(
        "spend",
        entities="customer",
        source=spend_source(),
        transform=with_flag,
        ttl="3d",
        description="new text",
    )
    assert meta["version"] == 3 and set(meta["changed"]) == {"ttl", "description"}
    described = fs.describe("spend", statistics=False)
    assert [v["version"] for v in described["versions"]] == [1, 2, 3]
    assert described["ttl"] == "3d"
    assert fs.get_view("spend", version=1).feature_names == ["amount", "country", "amount_x2"]


def test_declared_types_are_checked(fs):
    fs.register_entity("customer", ["customer_id"])
    with pytest.raises(InvalidInput, match="expected int64"):
        fs.register_view(
            "bad", entities="customer", source=spend_source(), schema={"country": "int64"}
        )
    with pytest.raises(InvalidInput, match="not in the transform's output"):
        fs.register_view(
            "bad", entities="customer", source=spend_source(), schema={"nope": "float64"}
        )
    with pytest.raises(InvalidInput, match="failed: KeyError"):
        fs.register_view(
            "bad", entities="customer", source=spend_source(), transform=lambda df: df["missing"]
        )
    # None of the failures left anything behind.
    assert fs.list_views() == []
    with pytest.raises(NotFound):
        fs.register_view("v", entities="nobody", source=spend_source())


def test_sources_from_paths_and_artifacts(fs, tmp_path, workspace):
    fs.register_entity("customer", ["customer_id"])
    csv = tmp_path / "spend.csv"
    spend_source().to_csv(csv, index=False)
    out = fs.register_view("from_csv", entities="customer", source=str(csv))
    assert out["source"] == {"kind": "csv", "ref": str(csv)}
    buffer = spend_source().to_parquet(index=False)
    workspace.artifacts.put("jobs/run-1/spend.parquet", buffer)
    out = fs.register_view(
        "from_job", entities="customer", source="artifact:jobs/run-1/spend.parquet"
    )
    assert out["source"]["kind"] == "artifact"
    assert fs.materialize("from_job", end="2024-02-01")["rows"] == 5
    with pytest.raises(InvalidInput, match="does not exist"):
        fs.register_view("nope", entities="customer", source=str(tmp_path / "missing.parquet"))


def test_search_by_text_owner_tag_and_entity(spend_view):
    fs = spend_view
    fs.register_entity("store", ["store_id"])
    stores = pd.DataFrame(
        {"store_id": [1], "event_timestamp": [pd.Timestamp("2024-01-01")], "footfall": [100]}
    )
    fs.register_view(
        "store_traffic",
        entities="store",
        source=stores,
        tags=["retail"],
        description="people walking in",
    )
    assert [v["name"] for v in fs.list_views(text="walking")] == ["store_traffic"]
    assert [v["name"] for v in fs.list_views(text="amount_x2")] == ["spend"]
    assert [v["name"] for v in fs.list_views(tag="billing")] == ["spend"]
    assert [v["name"] for v in fs.list_views(entity="store")] == ["store_traffic"]
    assert len(fs.list_views(owner=fs.user)) == 2
    assert fs.list_views(owner="somebody-else") == []


def test_visibility_and_ownership(workspace, mlinfra_env):
    alice = workspace_for("alice", team="data").service("features")
    bob = workspace_for("bob", team="data").service("features")
    carol = workspace_for("carol", team="web").service("features")
    alice.register_entity("customer", ["customer_id"])
    alice.register_view("spend", entities="customer", source=spend_source())
    alice.materialize("spend", end="2024-02-01")
    entity_df = pd.DataFrame(
        {"customer_id": [1], "event_timestamp": [pd.Timestamp("2024-01-04", tz="UTC")]}
    )

    # private: only alice sees it, reads it, finds it.
    for other in (bob, carol):
        assert other.list_views() == []
        with pytest.raises(NotFound):
            other.describe("spend")
        with pytest.raises(NotFound):
            other.get_training_frame(entity_df, ["spend:amount"])
        with pytest.raises(NotFound):
            other.get_online_features(["spend:amount"], [{"customer_id": 1}])

    alice.update_view("spend", visibility="team")
    assert [v["name"] for v in bob.list_views()] == ["spend"]
    # a team a user sets for himself (the old MLINFRA_TEAM setting) is not a team
    assert workspace_for("mallory", TEAM="data").service("features").list_views() == []
    assert bob.get_training_frame(entity_df, ["spend:amount"])["amount"].tolist() == [20.0]
    assert carol.list_views() == []

    alice.update_view("spend", visibility="public")
    assert [v["name"] for v in carol.list_views()] == ["spend"]
    # Only the owner changes, materializes, pushes or deletes.
    with pytest.raises(PermissionDenied):
        bob.update_view("spend", description="mine now")
    with pytest.raises(PermissionDenied):
        bob.delete_view("spend")
    with pytest.raises(PermissionDenied):
        bob.materialize("spend")
    with pytest.raises(PermissionDenied):
        carol.register_view("spend", entities="customer", source=spend_source())
    # ... or a role that allows it
    admin = workspace_for("root", ROLES='{"root": ["admin"]}').service("features")
    assert admin.update_view("spend", description="curated")["description"] == "curated"
    assert alice.delete_view("spend")["deleted"]
    assert carol.list_views() == []


def test_private_name_clash_is_a_conflict(workspace):
    alice = workspace_for("alice").service("features")
    bob = workspace_for("bob").service("features")
    alice.register_entity("customer", ["customer_id"])
    alice.register_view("spend", entities="customer", source=spend_source())
    with pytest.raises(Conflict):
        bob.register_view("spend", entities="customer", source=spend_source())


def test_entity_join_keys_cannot_change(fs):
    fs.register_entity("customer", ["customer_id"])
    assert fs.register_entity("customer", ["customer_id"])["join_keys"] == ["customer_id"]
    with pytest.raises(Conflict):
        fs.register_entity("customer", ["id"])


def test_describe_has_statistics_freshness_and_used_by(spend_view):
    fs = spend_view
    fs.materialize("spend", end="2024-02-01")
    frame = fs.get_training_frame(
        pd.DataFrame(
            {"customer_id": [1], "event_timestamp": [pd.Timestamp("2024-01-02", tz="UTC")]}
        ),
        ["spend:amount"],
    )
    fs.record_usage(frame.attrs["mlinfra_lineage"], "model:churn/1")
    info = fs.describe("spend")
    assert info["statistics"]["rows"] == 5
    assert info["statistics"]["entities"] == 3
    assert info["statistics"]["features"]["amount"]["max"] == 20.0
    assert info["freshness"]["offline_rows"] == 5
    assert info["freshness"]["latest_event_time"].startswith("2024-01-05T12:00")
    assert info["used_by"][0]["consumer"] == "model:churn/1"
    assert info["used_by"][0]["features"] == ["amount"]
    sample = fs.sample("spend", 2)
    assert sample["amount"].tolist() == [7.0, 20.0]
