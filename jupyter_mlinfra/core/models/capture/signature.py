"""The signature: the input and output types inferred from an input example run through the
model, and the columns an input lacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ...errors import InvalidInput


def _column_spec(obj: Any) -> dict:
    try:
        import numpy as np
        import pandas as pd
    except ImportError:  # pragma: no cover
        return {"type": type(obj).__name__}
    if isinstance(obj, pd.DataFrame):
        return {
            "type": "dataframe",
            "columns": [{"name": str(c), "dtype": str(t)} for c, t in obj.dtypes.items()],
        }
    if isinstance(obj, pd.Series):
        return {
            "type": "series",
            "name": str(obj.name) if obj.name is not None else None,
            "dtype": str(obj.dtype),
        }
    if isinstance(obj, np.ndarray):
        return {"type": "ndarray", "dtype": str(obj.dtype), "shape": [None, *obj.shape[1:]]}
    if isinstance(obj, (list, tuple)):
        return {"type": "list", "length": len(obj)}
    return {"type": type(obj).__name__}


def infer_signature(example: Any, output: Any) -> dict:
    signature = {"inputs": _column_spec(example), "outputs": _column_spec(output)}
    try:
        import pandas as pd

        if isinstance(example, pd.DataFrame):
            head = example.head(5)
            signature["input_example"] = json.loads(
                head.to_json(orient="records", date_format="iso")
            )
    except ImportError:  # pragma: no cover
        pass
    return signature


def missing_columns(signature: dict, frame: Any) -> list[str]:
    """Columns of the registered input example that ``frame`` lacks (empty when the
    signature is not a DataFrame's or the input is not a DataFrame)."""
    inputs = (signature or {}).get("inputs") or {}
    if inputs.get("type") != "dataframe":
        return []
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return []
    if not isinstance(frame, pd.DataFrame):
        return []
    return [c["name"] for c in inputs.get("columns", []) if c["name"] not in frame.columns]


def signature_of(
    model: Any, example: Any, featurize: Callable | None = None, predict: Callable | None = None
) -> dict:
    """The signature from running ``example`` through featurize and predict (empty without
    an example); an example that does not go through the model is InvalidInput."""
    if example is None:
        return {}
    try:
        X = featurize(example) if featurize else example
        output = predict(model, X) if predict else model.predict(X)
    except Exception as exc:
        raise InvalidInput(
            f"the input example does not go through the model: {type(exc).__name__}: {exc}"
        ) from exc
    return infer_signature(example, output)
