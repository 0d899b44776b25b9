"""Comparing two versions: a pure function of the two versions and their text artifacts."""

from __future__ import annotations

import difflib

from .versions import ModelVersion


def _diff_dicts(x: dict, y: dict) -> dict:
    keys = sorted(set(x) | set(y))
    return {k: {"a": x.get(k), "b": y.get(k)} for k in keys if x.get(k) != y.get(k)}


def _unified(a: str, b: str, from_name: str, to_name: str) -> str:
    return "".join(
        difflib.unified_diff(
            a.splitlines(keepends=True),
            b.splitlines(keepends=True),
            fromfile=from_name,
            tofile=to_name,
        )
    )


def compare_versions(
    a: ModelVersion,
    b: ModelVersion,
    *,
    replay: tuple[str, str] = ("", ""),
    functions: tuple[str, str] = ("", ""),
) -> dict:
    """What differs from ``a`` to ``b``: class, hyper-parameters, metrics (with deltas),
    dependencies, data, and code (the diffs of their ``replay.py`` and ``functions.py``,
    passed as ``replay`` and ``functions``; "" for a version without one), notebook, git and
    parameters."""
    metrics = {}
    for key in sorted(set(a.metrics) | set(b.metrics)):
        va, vb = a.metrics.get(key), b.metrics.get(key)
        metrics[key] = {
            "a": va,
            "b": vb,
            "delta": (vb - va) if va is not None and vb is not None else None,
        }
    deps = _diff_dicts(a.dependencies.get("packages", {}), b.dependencies.get("packages", {}))
    for key in ("python", "platform"):
        if a.dependencies.get(key) != b.dependencies.get(key):
            deps[key] = {"a": a.dependencies.get(key), "b": b.dependencies.get(key)}
    data_a = {d["role"]: d for d in a.data}
    data_b = {d["role"]: d for d in b.data}
    data = {}
    for role in sorted(set(data_a) | set(data_b)):
        da, db = data_a.get(role), data_b.get(role)
        fields = {}
        for key in ("kind", "uri", "rows", "schema", "content_sha256", "lineage"):
            va, vb = (da or {}).get(key), (db or {}).get(key)
            if va != vb:
                fields[key] = {"a": va, "b": vb}
        data[role] = {"same": not fields, "differences": fields}
    return {
        "a": a.ref,
        "b": b.ref,
        "model_class": {"a": a.to_dict(False)["model_class"], "b": b.to_dict(False)["model_class"]},
        "hyperparameters": _diff_dicts(
            a.definition.get("hyperparameters", {}), b.definition.get("hyperparameters", {})
        ),
        "metrics": metrics,
        "dependencies": deps,
        "data": data,
        "code": {
            "diff": _unified(*replay, f"{a.ref}/replay.py", f"{b.ref}/replay.py"),
            "functions_diff": _unified(
                *functions, f"{a.ref}/functions.py", f"{b.ref}/functions.py"
            ),
            "notebook": {
                "a": a.code.get("notebook_path"),
                "b": b.code.get("notebook_path"),
                "same_snapshot": a.code.get("notebook_sha256") == b.code.get("notebook_sha256"),
            },
            "git": {"a": a.code.get("git"), "b": b.code.get("git")},
            "parameters": _diff_dicts(
                a.code.get("parameters") or {}, b.code.get("parameters") or {}
            ),
        },
    }


__all__ = ["compare_versions"]
