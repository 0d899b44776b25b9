"""SortedRows (the point-in-time search behind training frames) against a plain definition:
for each entity row, the latest feature row of its entity with event time <= the row's time
and >= time - TTL (both inclusive), ties on event time broken by the created time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_mlinfra.core.features.asof import SortedRows
from jupyter_mlinfra.core.features.definitions import CREATED_TS, EVENT_TS


def _reference(features: pd.DataFrame, keys, entity: pd.DataFrame, ttl) -> list:
    """The definition, row by row (slow and obvious)."""
    out = []
    for _, row in entity.iterrows():
        mask = np.ones(len(features), dtype=bool)
        for k in keys:
            if pd.isna(row[k]):
                mask &= False
            else:
                mask &= (features[k] == row[k]).to_numpy()
        ts = row["ts"]
        mask &= (features[EVENT_TS] <= ts).to_numpy()
        if ttl is not None:
            mask &= (features[EVENT_TS] >= ts - pd.Timedelta(seconds=ttl)).to_numpy()
        hits = features[mask]
        if pd.isna(ts) or hits.empty:
            out.append(None)
            continue
        best = hits.sort_values([EVENT_TS, CREATED_TS], kind="stable").iloc[-1]
        out.append(best["value"])
    return out


@pytest.mark.parametrize("ttl", [None, 3600.0, 0.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sorted_rows_match_the_definition(seed, ttl):
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-01-01")
    n = 400
    # Few distinct times so ties on event time (and exact TTL edges) are common.
    event = base + pd.to_timedelta(rng.integers(0, 12, n) * 1800, unit="s")
    features = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 15, n),
            EVENT_TS: event,
            CREATED_TS: event + pd.to_timedelta(rng.integers(0, 5, n), unit="s"),
            "value": rng.random(n),
        }
    )
    entity = pd.DataFrame(
        {
            "customer_id": pd.array(list(rng.integers(0, 18, 150)) + [None], dtype="Int64"),
            "ts": list(base + pd.to_timedelta(rng.integers(-2, 14, 150) * 1800, unit="s"))
            + [base + pd.Timedelta(hours=3)],
        }
    )
    entity.loc[5, "ts"] = pd.NaT
    rows = SortedRows(features, ["customer_id"], ["value"])
    pos = rows.positions([entity["customer_id"]], entity["ts"], ttl)
    got = rows.take("value", pos).tolist()
    want = _reference(features, ["customer_id"], entity, ttl)
    for g, w in zip(got, want):
        if w is None:
            assert pd.isna(g)
        else:
            assert g == w


def test_two_join_keys_strings_and_nullable_values():
    base = pd.Timestamp("2026-01-01", tz="UTC")
    features = pd.DataFrame(
        {
            "shop": ["a", "a", "b", "b", None],
            "item": [1, 1, 1, 2, 1],
            EVENT_TS: [base, base + pd.Timedelta("1h"), base, base, base],
            CREATED_TS: [base] * 5,
            "value": pd.array([1, 2, None, 4, 5], dtype="Int64"),
            "label": pd.array(["x", "y", "z", None, "w"], dtype="string"),
        }
    )
    entity = pd.DataFrame(
        {
            "shop": ["a", "a", "b", "b", "c", None],
            "item": [1, 1, 1, 2, 1, 1],
            "ts": [
                base + pd.Timedelta("30min"),
                base + pd.Timedelta("2h"),
                base,
                base - pd.Timedelta("1s"),
                base,
                base,
            ],
        }
    )
    rows = SortedRows(features, ["shop", "item"], ["value", "label"])
    pos = rows.positions([entity["shop"], entity["item"]], entity["ts"], None)
    assert rows.take("value", pos).tolist()[:3] == [1, 2, pd.NA]
    assert pd.isna(rows.take("value", pos)).tolist() == [False, False, True, True, True, True]
    assert rows.take("label", pos).tolist()[:3] == ["x", "y", "z"]
    assert str(rows.take("value", pos).dtype) == "Int64"
