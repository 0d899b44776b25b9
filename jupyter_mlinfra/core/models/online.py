"""Online prediction with features from the feature store's online store.

A version trained on a feature-store training frame records the frame's lineage (the
``view@version:feature`` references). When a prediction request's records lack some of the
model's input columns, those features are looked up online by the records' entity keys
(``FeatureService.get_online_features``); values sent in the request win over stored ones.
"""

from __future__ import annotations

from typing import Any


def lineage_features(version) -> list[str]:
    for entry in version.data:
        lineage = entry.get("lineage")
        if isinstance(lineage, dict) and lineage.get("features"):
            return list(lineage["features"])
    return []


def fill_features(workspace, version, records: list[dict], requested: Any = None) -> list[dict]:
    features = list(requested) if requested else lineage_features(version)
    if not features or not records:
        return records
    if requested is None:
        expected = [c["name"] for c in (version.signature.get("inputs") or {}).get("columns", [])]
        if expected and all(c in records[0] for c in expected):
            return records  # the caller sent every input column
    online = workspace.service("features").get_online_features(features, records)
    return [{**stored, **record} for stored, record in zip(online.rows, records)]
