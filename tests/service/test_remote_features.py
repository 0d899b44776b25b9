"""The feature store in remote mode. Read side: views defined and materialized on the
service's catalog by alice (a public and a private view); bob and alice read them through
the service: list, describe, sample, online lookups, training frames. Write side: alice
defines, materializes and pushes through the service, her transform running in her process
only; bob may not change her view; a malformed upload is refused and leaves nothing."""

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
    source = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"], utc=True),
            "amount": [10.0, 30.0, 5.0],
        }
    )
    fs.register_view("spend", entities="customer", source=source, visibility="public")
    fs.register_view("alice_secret", entities="customer", source=source, visibility="private")
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
    found = bob.get_online_features(["spend:amount"], [{"customer_id": 1}, {"customer_id": 3}])
    assert [r[found.feature_names[0]] for r in found.rows] == [30.0, None]
    assert [s[found.feature_names[0]] for s in found.status] == ["present", "not_found"]
    assert isinstance(found.event_times[0]["spend"], float)
    entity_df = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_timestamp": pd.to_datetime(
                ["2024-01-01T12:00", "2024-01-03T00:00", "2024-01-01T00:00"], utc=True
            ),
        },
        index=[10, 11, 12],
    )
    frame = bob.get_training_frame(entity_df, ["spend:amount"])
    assert list(frame.index) == [10, 11, 12]
    assert frame["amount"].tolist()[:2] == [10.0, 30.0] and pd.isna(frame["amount"].iloc[2])
    assert frame.attrs["mlinfra_lineage"]["views"]
    with pytest.raises((NotFound, PermissionDenied)):
        bob.get_online_features(["alice_secret:amount"], [{"customer_id": 1}])


def _doubled(df):
    df = df.copy()
    df["amount2"] = df["amount"] * 2
    return df[["shop_id", "event_timestamp", "amount2"]]


def _tripled(df):
    df = df.copy()
    df["amount2"] = df["amount"] * 3
    return df[["shop_id", "event_timestamp", "amount2"]]


SHOP_SOURCE = pd.DataFrame(
    {
        "shop_id": [1, 1, 2],
        "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"], utc=True),
        "amount": [10.0, 30.0, 5.0],
    }
)


def test_remote_define_materialize_push_run_the_transform_in_the_client(service, remote):
    alice = remote(service, "alice").service("features")
    alice.register_entity("shop", ["shop_id"])
    define = dict(
        entities="shop",
        source=SHOP_SOURCE,
        transform=_doubled,
        visibility="public",
        description="doubled spend",
        tags=["remote"],
    )
    defined = alice.register_view("shop_spend", **define)
    assert defined["version"] == 1 and defined["created"]
    assert {f["name"]: f["dtype"] for f in defined["features"]} == {"amount2": "float64"}
    assert defined["join_keys"] == {"shop_id": "int64"}
    again = alice.register_view("shop_spend", **define)  # unchanged: no new version
    assert again["version"] == 1 and not again["created"]

    done = alice.materialize("shop_spend", end="2024-01-03")
    assert done["rows"] == 3 and done["files"] >= 1 and done["online_rows"] == 2
    assert alice.materialize("shop_spend", end="2024-01-03")["up_to_date"]
    pushed = alice.push(
        "shop_spend",
        [{"shop_id": 2, "amount": 50.0, "event_timestamp": pd.Timestamp("2024-01-05", tz="UTC")}],
    )
    assert pushed["rows"] == 1 and pushed["online_rows"] == 1

    bob = remote(service, "bob").service("features")
    found = bob.get_online_features(["shop_spend:amount2"], [{"shop_id": 1}, {"shop_id": 2}])
    assert [r[found.feature_names[0]] for r in found.rows] == [60.0, 100.0]
    entity_df = pd.DataFrame(
        {
            "shop_id": [1, 2, 2],
            "event_timestamp": pd.to_datetime(
                ["2024-01-01T12:00", "2024-01-03T00:00", "2024-01-06T00:00"], utc=True
            ),
        }
    )
    frame = bob.get_training_frame(entity_df, ["shop_spend:amount2"])
    assert frame["amount2"].tolist() == [20.0, 10.0, 100.0]
    info = bob.describe("shop_spend")
    assert info["owner"] == "alice" and "_doubled" in str(info)
    assert len(alice.sample("shop_spend", 100)) == 4

    # bob may not change alice's view, through any door
    with pytest.raises(PermissionDenied):
        bob.update_view("shop_spend", description="mine now")
    with pytest.raises(PermissionDenied):
        bob.delete_view("shop_spend")
    with pytest.raises(PermissionDenied):
        bob.register_view("shop_spend", **{**define, "transform": _tripled})
    with pytest.raises(PermissionDenied):
        bob._upload("shop_spend", _doubled(SHOP_SOURCE), {"mode": "push", "version": 1})
    # nor run its transform (fetched only by who may change the view) to push to it
    with pytest.raises(PermissionDenied):
        bob.push("shop_spend", SHOP_SOURCE)

    # malformed uploads: 400 naming what is wrong, nothing stored
    missing = _doubled(SHOP_SOURCE).drop(columns=["amount2"])
    with pytest.raises(InvalidInput, match="amount2"):
        alice._upload("shop_spend", missing, {"mode": "push", "version": 1})
    extra = _doubled(SHOP_SOURCE).assign(secret=1)
    with pytest.raises(InvalidInput, match="secret"):
        alice._upload("shop_spend", extra, {"mode": "push", "version": 1})
    wrong_type = _doubled(SHOP_SOURCE).assign(amount2=["x", "y", "z"])
    with pytest.raises(InvalidInput, match="amount2"):
        alice._upload(
            "shop_spend",
            wrong_type,
            {
                "mode": "materialize",
                "version": 1,
                "start": "2024-01-01T00:00:00Z",
                "end": "2024-02-01T00:00:00Z",
            },
        )
    with pytest.raises(InvalidInput, match="parquet"):
        alice.client.call(
            "POST",
            "features/views/shop_spend/rows",
            data={"meta": '{"mode": "push"}'},
            files=[("rows", ("rows.parquet", b"not parquet", "text/plain"))],
        )
    assert len(alice.sample("shop_spend", 100)) == 4
    found = bob.get_online_features(["shop_spend:amount2"], [{"shop_id": 1}, {"shop_id": 2}])
    assert [r[found.feature_names[0]] for r in found.rows] == [60.0, 100.0]
    assert alice.materialize("shop_spend", end="2024-02-01")["rows"] == 0

    # a changed transform makes a new version, as locally
    changed = alice.register_view("shop_spend", **{**define, "transform": _tripled})
    assert changed["version"] == 2 and changed["created"]
    assert alice.materialize("shop_spend", end="2024-01-03")["rows"] == 3
    found = bob.get_online_features(["shop_spend:amount2"], [{"shop_id": 1}])
    assert found.rows[0][found.feature_names[0]] == 90.0

    # a direct-mode process runs the transform the defining client stored as bytes
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace(resolve_config(environ={"MLINFRA_HOME": str(service.home)}), user="alice")
    try:
        assert ws.service("features").push("shop_spend", SHOP_SOURCE)["rows"] == 3
        # the remote writes are in the audit log, as local ones (bob's refusals as denied)
        from jupyter_mlinfra.core import audit

        lines = audit.query(ws, action="features", target="shop_spend", limit=100)["items"]
        assert {"features.define", "features.materialize", "features.push"} <= {
            line["action"] for line in lines if line["outcome"] == "ok"
        }
    finally:
        ws.close()


def test_feature_cli_in_remote_mode(service, cli, views, tmp_path):
    listed = cli(service, "bob", "feature", "list")
    assert listed.returncode == 0 and "spend" in listed.stdout, listed.stderr
    assert "alice_secret" not in listed.stdout
    described = cli(service, "bob", "feature", "describe", "spend")
    assert described.returncode == 0 and "amount" in described.stdout, described.stderr
    refused = cli(service, "bob", "feature", "materialize", "spend")
    assert refused.returncode == 5 and "belongs to alice" in refused.stderr
    # its owner materializes from a CLI process that never defined it: the transform and the
    # DataFrame source the service keeps are fetched, the transform runs in the CLI
    done = cli(service, "alice", "feature", "materialize", "spend")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "cli-home-alice" / "catalog.db").exists()
    assert not (tmp_path / "cli-home-bob" / "catalog.db").exists()
