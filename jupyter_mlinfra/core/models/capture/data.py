"""5. The data: references and fingerprints of the training, validation and other datasets."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ...errors import InvalidInput


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def fingerprint_data(role: str, obj: Any) -> dict:
    """Reference and fingerprint of one dataset: schema, rows and content hash for frames and
    arrays; URI (plus size and hash when local) for paths; feature lineage of training
    frames built by the feature store (``frame.attrs["mlinfra_lineage"]``)."""
    entry: dict = {"role": role}
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
        h = hashlib.sha256(hashed.tobytes())
        h.update(json.dumps([str(c) for c in frame.columns]).encode())
        entry.update(
            kind="dataframe",
            rows=int(len(frame)),
            schema={str(c): str(t) for c, t in frame.dtypes.items()},
            content_sha256=h.hexdigest(),
        )
        lineage = getattr(obj, "attrs", {}).get("mlinfra_lineage")
        if lineage is not None:
            entry["lineage"] = json.loads(json.dumps(lineage, default=str))
        return entry
    try:
        import numpy as np

        if isinstance(obj, np.ndarray):
            data = np.ascontiguousarray(obj)
            h = hashlib.sha256(
                data.tobytes() if data.dtype != object else repr(data.tolist()).encode()
            )
            entry.update(
                kind="array",
                rows=int(obj.shape[0]) if obj.ndim else 1,
                schema={"dtype": str(obj.dtype), "shape": list(obj.shape)},
                content_sha256=h.hexdigest(),
            )
            return entry
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, (str, os.PathLike)):
        text = os.fspath(obj)
        entry.update(kind="uri", uri=text)
        if "://" not in text or text.startswith("file://"):
            path = Path(text.removeprefix("file://")).expanduser()
            if path.is_file():
                entry.update(
                    uri=path.resolve().as_uri(),
                    size=path.stat().st_size,
                    content_sha256=_file_digest(path),
                )
        return entry
    if isinstance(obj, dict) and ("uri" in obj or "feature_view" in obj):
        entry.update(kind="reference", **json.loads(json.dumps(obj, default=str)))
        return entry
    raise InvalidInput(
        f"cannot fingerprint {role} data of type {type(obj).__name__}: pass a "
        "DataFrame, an array, a path/URI or a dict with 'uri'"
    )


def fingerprint_datasets(
    training_data: Any = None, validation_data: Any = None, data: dict[str, Any] | None = None
) -> list[dict]:
    """The fingerprints of every dataset passed, training and validation first."""
    datasets: list[dict] = []
    for role, obj in (("training", training_data), ("validation", validation_data)):
        if obj is not None:
            datasets.append(fingerprint_data(role, obj))
    for role, obj in (data or {}).items():
        datasets.append(fingerprint_data(str(role), obj))
    return datasets
