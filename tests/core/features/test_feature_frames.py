"""Materialization and point-in-time-correct training frames."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from feature_data import spend_source, workspace_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlinfra.core.errors import InvalidInput

T0 = pd.Timestamp("2024-03-01", tz="UTC")


def at(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def test_materialize_writes_daily_parquet_partitions_and_is_incremental(spend_view, workspace):
    fs = spend_view
    first = fs.materialize("spend", start="2024-01-01", end="2024-01-03")
    assert first["rows"] == 3  # 01-01 10:00, 01-02 09:00, 01-01 08:00
    keys = workspace.artifacts.list("features/offline/spend/v1")
    assert {k.split("/")[4] for k in keys} == {"date=2024-01-01", "date=2024-01-02"}
    # Without a start it continues where the last run stopped: only the new interval.
    second = fs.materialize("spend", end="2024-02-01")
    assert second["intervals"] == [["2024-01-03T00:00:00Z", "2024-02-01T00:00:00Z"]]
    assert second["rows"] == 2
    # Re-running any covered range computes nothing and duplicates nothing.
    again = fs.materialize("spend", start="2024-01-01", end="2024-02-01")
    assert again["up_to_date"] and again["rows"] == 0
    assert fs.describe("spend")["freshness"]["offline_rows"] == 5
    with pytest.raises(InvalidInput):
        fs.materialize("spend", start="2024-02-01", end="2024-01-01")


def test_training_frame_is_point_in_time_correct(spend_view):
    fs = spend_view
    fs.materialize("spend", end="2024-02-01")
    entity_df = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 1, 9, 1, 1, 1],
            "event_timestamp": pd.to_datetime(
                [
                    "2024-01-02 00:00",  # latest before: 01-01 10:00 -> 10
                    "2024-01-06 00:00",  # 01-05 12:00 -> 7
                    "2024-01-04 00:00",  # 01-01 08:00 is older than the 2-day TTL -> null
                    "2024-01-03 10:00",  # exactly at the event time: included -> 20
                    "2024-01-03 00:00",  # unknown entity -> null
                    "2023-12-31 00:00",  # before any data -> null
                    "2024-01-05 10:00",  # exactly TTL after 01-03 10:00: inclusive -> 20
                    "2024-01-05 10:00:00.000001",  # one microsecond past the TTL -> null
                ],
                utc=True,
                format="ISO8601",
            ),
            "label": [0, 1, 0, 1, 0, 1, 0, 1],
        },
        index=[70, 71, 72, 73, 74, 75, 76, 77],
    )
    frame = fs.get_training_frame(entity_df, ["spend:amount", "spend:country"])
    assert list(frame.index) == [70, 71, 72, 73, 74, 75, 76, 77]
    assert frame["label"].tolist() == entity_df["label"].tolist()
    expected = [10.0, 7.0, None, 20.0, None, None, 20.0, None]
    got = [None if pd.isna(v) else v for v in frame["amount"]]
    assert got == expected
    assert frame["country"].tolist()[:2] == ["fr", "de"]
    lineage = frame.attrs["mlinfra_lineage"]
    assert lineage["features"] == ["spend@1:amount", "spend@1:country"]
    assert lineage["views"][0]["version"] == 1 and lineage["views"][0]["ttl_seconds"] == 172800
    assert lineage["entity_df"]["rows"] == 8 and len(lineage["entity_df"]["fingerprint"]) == 64


def test_ties_on_event_time_go_to_the_latest_created_row(fs):
    fs.register_entity("customer", ["customer_id"])
    rows = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "event_timestamp": [at(0), at(0), at(0)],
            "created": [at(5), at(9), at(1)],
            "score": [1.0, 2.0, 3.0],
        }
    )
    fs.register_view("scores", entities="customer", source=rows, created_timestamp="created")
    fs.materialize("scores", end=at(60))
    # A later push with an older created time must not win; a newer one must.
    fs.push("scores", {"customer_id": 1, "event_timestamp": at(0), "created": at(3), "score": 4.0})
    entity_df = pd.DataFrame({"customer_id": [1], "event_timestamp": [at(1)]})
    assert fs.get_training_frame(entity_df, ["scores:score"])["score"].tolist() == [2.0]
    assert fs.get_online_features(["scores:score"], [{"customer_id": 1}]).rows[0]["score"] == 2.0
    fs.push("scores", {"customer_id": 1, "event_timestamp": at(0), "created": at(10), "score": 5.0})
    assert fs.get_training_frame(entity_df, ["scores:score"])["score"].tolist() == [5.0]


def test_several_views_and_name_clashes(spend_view):
    fs = spend_view
    fs.materialize("spend", end="2024-02-01")
    other = pd.DataFrame(
        {"customer_id": [1], "event_timestamp": [pd.Timestamp("2024-01-01")], "amount": [99.0]}
    )
    fs.register_view("refunds", entities="customer", source=other)
    fs.materialize("refunds", end="2024-02-01")
    entity_df = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "event_timestamp": pd.to_datetime(["2024-01-02", "2024-01-02"], utc=True),
        }
    )
    frame = fs.get_training_frame(entity_df, ["spend:amount", "refunds:amount", "spend:amount_x2"])
    assert list(frame.columns) == [
        "customer_id",
        "event_timestamp",
        "spend__amount",
        "amount_x2",
        "refunds__amount",
    ]
    assert frame["refunds__amount"].tolist()[0] == 99.0
    assert pd.isna(frame["refunds__amount"].tolist()[1])


def test_a_view_with_no_data_is_an_error_not_silent_nulls(fs):
    fs.register_entity("customer", ["customer_id"])
    fs.register_view("empty", entities="customer", schema={"customer_id": "int64", "x": "float64"})
    with pytest.raises(InvalidInput, match="no data yet"):
        fs.get_training_frame(
            pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]}), ["empty:x"]
        )


def test_pushed_rows_read_back_identically_offline_and_online(fs):
    """One transform for batch and streaming: a pushed row goes through the view's own
    transform and comes back the same from a training frame and from an online lookup."""
    fs.register_entity("customer", ["customer_id"])

    def featurize(df):
        df["spend_log"] = np.log1p(df["amount"])
        df["is_big"] = df["amount"] > 100
        return df.drop(columns=["amount"])

    batch = pd.DataFrame(
        {"customer_id": [1, 2], "event_timestamp": [at(0), at(0)], "amount": [10.0, 500.0]}
    )
    fs.register_view("txn", entities="customer", source=batch, transform=featurize, ttl="7d")
    fs.materialize("txn", end=at(1))
    now = pd.Timestamp.now(tz="UTC").floor("s")
    fs.push("txn", [{"customer_id": 3, "event_timestamp": now, "amount": 123.5}])
    frame = fs.get_training_frame(
        pd.DataFrame({"customer_id": [3, 2], "event_timestamp": [now, at(5)]}),
        ["txn:spend_log", "txn:is_big"],
    )
    online = fs.get_online_features(["txn:spend_log", "txn:is_big"], [{"customer_id": 3}])
    assert frame["spend_log"].tolist()[0] == online.rows[0]["spend_log"] == np.log1p(123.5)
    assert bool(frame["is_big"].tolist()[0]) is online.rows[0]["is_big"] is True
    assert frame["spend_log"].tolist()[1] == np.log1p(500.0)
    assert online.status[0] == {"spend_log": "present", "is_big": "present"}
    with pytest.raises(InvalidInput, match="transform of feature view 'txn' failed"):
        fs.push("txn", {"customer_id": 4, "event_timestamp": now, "amount": "lots"})
    with pytest.raises(InvalidInput, match="join key 'customer_id'.*expected int64"):
        fs.push("txn", {"customer_id": "four", "event_timestamp": now, "amount": 1.0})
    assert fs.describe("txn")["freshness"]["offline_rows"] == 3  # the bad pushes left nothing


def test_offline_store_on_s3(s3_bucket, mlinfra_env, monkeypatch):
    root, endpoint = s3_bucket
    ws = workspace_for("alice", artifact_root=root, s3_endpoint_url=endpoint)
    fs = ws.service("features")
    fs.register_entity("customer", ["customer_id"])
    fs.register_view("spend", entities="customer", source=spend_source(), ttl="2d")
    assert fs.materialize("spend", end="2024-02-01")["files"] == 4
    assert any(
        k.startswith("features/offline/spend/v1/date=2024-01-05/")
        for k in ws.artifacts.list("features/offline")
    )
    frame = fs.get_training_frame(
        pd.DataFrame(
            {
                "customer_id": [2, 1],
                "event_timestamp": pd.to_datetime(["2024-01-06", "2024-01-02"], utc=True),
            }
        ),
        ["spend:amount"],
    )
    assert frame["amount"].tolist() == [7.0, 10.0]
    fs.close()
    ws.close()


def test_catalog_and_online_store_on_postgresql(pg_catalog_url, mlinfra_env):
    ws = workspace_for("alice", catalog_url=pg_catalog_url, online_store_url=pg_catalog_url)
    fs = ws.service("features")
    assert fs.online.backend == "postgresql"
    fs.register_entity("customer", ["customer_id"])
    fs.register_view("spend", entities="customer", source=spend_source(), ttl="2d")
    fs.materialize("spend", end="2024-02-01")
    fs.push(
        "spend",
        {
            "customer_id": 7,
            "event_timestamp": pd.Timestamp.now(tz="UTC"),
            "amount": 1.5,
            "country": "pt",
        },
    )
    online = fs.get_online_features(
        ["spend:amount", "spend:country"],
        [{"customer_id": 7}, {"customer_id": 1}, {"customer_id": 8}],
    )
    assert online.rows[0] == {"customer_id": 7, "amount": 1.5, "country": "pt"}
    assert [s["amount"] for s in online.status] == ["present", "expired", "not_found"]
    # A second process (another workspace) serves the same values from PostgreSQL.
    other = workspace_for("alice", catalog_url=pg_catalog_url, online_store_url=pg_catalog_url)
    again = other.service("features").get_online_features(["spend:amount"], [{"customer_id": 7}])
    assert again.rows[0]["amount"] == 1.5
    frame = fs.get_training_frame(
        pd.DataFrame(
            {"customer_id": [2], "event_timestamp": [pd.Timestamp("2024-01-06", tz="UTC")]}
        ),
        ["spend:amount"],
    )
    assert frame["amount"].tolist() == [7.0]
    for w in (ws, other):
        w.service("features").close()
        w.close()


# -- the property test ---------------------------------------------------------------------------
def brute_force(features: pd.DataFrame, entity_df: pd.DataFrame, ttl_minutes: int | None):
    """The definition, row by row: latest event <= t and >= t - TTL, ties by created time."""
    out = []
    for _, row in entity_df.iterrows():
        t = row["event_timestamp"]
        cand = features[
            (features["customer_id"] == row["customer_id"]) & (features["event_timestamp"] <= t)
        ]
        if ttl_minutes is not None:
            cand = cand[cand["event_timestamp"] >= t - pd.Timedelta(minutes=ttl_minutes)]
        if cand.empty:
            out.append(None)
        else:
            best = cand.sort_values(["event_timestamp", "created"]).iloc[-1]
            out.append(float(best["value"]))
    return out


# Small ranges so that equal times, exact TTL boundaries and duplicates come up often.
feature_rows = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 12),
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=25,
)
entity_rows = st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 20)), min_size=1, max_size=25)
_counter = itertools.count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=feature_rows,
    entities=entity_rows,
    ttl=st.one_of(st.none(), st.integers(1, 8)),
    split=st.integers(0, 25),
    cached=st.booleans(),
    data=st.data(),
)
def test_training_frames_match_a_brute_force_reference(
    fs, rows, entities, ttl, split, cached, data
):
    """Property: one output row per input row, in order, equal to the brute-force answer,
    whether rows came by materialization or by push, cached in memory or read from parquet."""
    fs.register_entity("customer", ["customer_id"])
    name = f"prop{next(_counter)}"
    created = data.draw(st.permutations(range(len(rows))))
    features = pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "event_timestamp": [at(r[1]) for r in rows],
            "created": [at(c) for c in created],
            "value": [r[2] for r in rows],
        }
    )
    batch, pushed = features.iloc[:split], features.iloc[split:]
    if not batch.empty and data.draw(st.booleans(), label="re-push batch keys"):
        # Re-push some batch rows' (entity, time) with other values, created before or after.
        later = data.draw(st.lists(st.booleans(), min_size=len(batch), max_size=len(batch)))
        again = batch.assign(
            value=batch["value"] + 1.5,
            created=[at(100 + i) if newer else at(-100 - i) for i, newer in enumerate(later)],
        )
        pushed = pd.concat([pushed, again], ignore_index=True)
        features = pd.concat([batch, pushed], ignore_index=True)
    if batch.empty:
        fs.register_view(
            name,
            entities="customer",
            created_timestamp="created",
            ttl=None if ttl is None else f"{ttl}m",
            schema={"customer_id": "int64", "value": "float64"},
        )
    else:
        fs.register_view(
            name,
            entities="customer",
            source=batch,
            created_timestamp="created",
            ttl=None if ttl is None else f"{ttl}m",
        )
        fs.materialize(name, start=at(-1000), end=at(1000))
    if not pushed.empty:
        fs.push(name, pushed)
    fs._sorted.max_rows = 10_000_000 if cached else 0  # 0: every frame reads the files
    entity_df = pd.DataFrame(
        {"customer_id": [e[0] for e in entities], "event_timestamp": [at(e[1]) for e in entities]},
        index=pd.RangeIndex(len(entities)) * 3 + 5,
    )
    frame = fs.get_training_frame(entity_df, [f"{name}:value"])
    assert len(frame) == len(entity_df)
    assert list(frame.index) == list(entity_df.index)
    assert frame["customer_id"].tolist() == entity_df["customer_id"].tolist()
    got = [None if pd.isna(v) else float(v) for v in frame["value"]]
    assert got == brute_force(features, entity_df, ttl)


def test_composite_and_string_keys(fs):
    fs.register_entity("store", ["country", "store_id"])
    rows = pd.DataFrame(
        {
            "country": ["fr", "fr", "de"],
            "store_id": [1, 2, 1],
            "event_timestamp": [at(0), at(0), at(0)],
            "visits": [10, 20, 30],
        }
    )
    out = fs.register_view("visits", entities="store", source=rows)
    assert out["join_keys"] == {"country": "string", "store_id": "int64"}
    fs.materialize("visits", end=at(10))
    entity_df = pd.DataFrame(
        {
            "country": ["de", "fr", "fr", "it"],
            "store_id": [1, 2, 1, 1],
            "event_timestamp": [at(1)] * 4,
        }
    )
    frame = fs.get_training_frame(entity_df, ["visits:visits"])
    assert frame["visits"].tolist()[:3] == [30, 20, 10] and pd.isna(frame["visits"].iloc[3])
    assert str(frame["visits"].dtype) == "Int64"
    online = fs.get_online_features(
        ["visits:visits"], [{"country": "de", "store_id": 1}, {"country": "fr", "store_id": 9}]
    )
    assert [r["visits"] for r in online.rows] == [30, None]


def test_compact_merges_pushed_files_without_changing_frames(spend_view, workspace):
    fs = spend_view
    fs.materialize("spend", end="2024-02-01")
    for i, amount in enumerate([1.0, 2.0, 3.0]):
        fs.push(
            "spend",
            {
                "customer_id": 1,
                "amount": amount,
                "country": "fr",
                "event_timestamp": pd.Timestamp("2024-01-03 10:00", tz="UTC")
                + pd.Timedelta(minutes=i),
            },
        )
    fs.push(
        "spend",
        {
            "customer_id": 1,
            "amount": 9.0,
            "country": "fr",
            "event_timestamp": pd.Timestamp("2024-01-03 10:00", tz="UTC"),
        },
    )
    entity_df = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "event_timestamp": pd.to_datetime(
                ["2024-01-03 10:00", "2024-01-03 10:01:30", "2024-01-04"],
                utc=True,
                format="ISO8601",
            ),
        }
    )
    before = fs.get_training_frame(entity_df, ["spend:amount", "spend:amount_x2"])
    assert before["amount"].tolist() == [9.0, 2.0, 3.0]
    old_keys = set(workspace.artifacts.list("features/offline/spend/v1/date=2024-01-03"))
    out = fs.compact("spend")
    assert out["files_before"] == 8 and out["files_after"] == 4
    new_keys = set(workspace.artifacts.list("features/offline/spend/v1/date=2024-01-03"))
    assert len(new_keys) == 1 and not (new_keys & old_keys)
    fs._sorted.max_rows = 0  # read the new file itself
    after = fs.get_training_frame(entity_df, ["spend:amount", "spend:amount_x2"])
    pd.testing.assert_frame_equal(before, after)
    # customer 1 at 01-03 10:00 was materialized once and pushed twice: one row is left.
    assert fs.describe("spend")["freshness"]["offline_rows"] == 5 + 4 - 2
    assert fs.compact("spend")["partitions"] == 0


def test_every_feature_type_reads_back_the_same_offline_and_online(fs):
    fs.register_entity("customer", ["customer_id"])
    src = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "event_timestamp": [at(0), at(0)],
            "x": [1.5, None],
            "n": [3, 4],
            "s": ["a", None],
            "b": [True, False],
            "signup": pd.to_datetime(["2023-01-01 12:00", None], utc=True),
        }
    )
    fs.register_view("kinds", entities="customer", source=src)
    fs.materialize("kinds", end=at(10))
    frame = fs.get_training_frame(
        pd.DataFrame({"customer_id": [1, 2], "event_timestamp": [at(1), at(1)]}), ["kinds:*"]
    )
    online = fs.get_online_features(["kinds:*"], [{"customer_id": 1}, {"customer_id": 2}])
    for i, row in enumerate(online.rows):
        for name in ("x", "n", "s", "b", "signup"):
            offline = frame[name].iloc[i]
            if pd.isna(offline):
                assert row[name] is None, (name, row[name])
            else:
                assert row[name] == offline, (name, row[name], offline)
    assert str(frame["signup"].dtype) == "datetime64[us, UTC]"
