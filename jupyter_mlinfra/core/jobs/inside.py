"""What a notebook calls from inside a run: ``jupyter_mlinfra.log_metric`` / ``log_artifact``.

The run is identified by ``MLINFRA_RUN_ID``, which the runner sets in the kernel, along with
the catalog and artifact store settings of the scheduler that dispatched it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any


def current_run_id() -> str | None:
    return os.environ.get("MLINFRA_RUN_ID") or None


def _service():
    from ..workspace import get_workspace

    return get_workspace().service("jobs")


def log_metric(name: str, value: float, step: int | None = None) -> None:
    run_id = current_run_id()
    if run_id is None:
        print(f"[jupyter_mlinfra] metric {name} = {value} (not in a job run: not stored)")
        return
    _service().log_metric(run_id, name, value, step)


def _to_bytes(name: str, obj: Any) -> tuple[str, bytes, dict]:
    if isinstance(obj, (bytes, bytearray)):
        return name, bytes(obj), {}
    if isinstance(obj, (str, os.PathLike)) and Path(obj).is_file():
        return name, Path(obj).read_bytes(), {"source": str(obj)}
    if isinstance(obj, str):
        return name, obj.encode(), {"content_type": "text/plain"}
    try:
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            if not name.endswith(".csv") and not name.endswith(".parquet"):
                name += ".csv"
            if name.endswith(".parquet"):
                buf = io.BytesIO()
                obj.to_parquet(buf)
                return name, buf.getvalue(), {"kind": "table", "rows": len(obj)}
            return (
                name,
                obj.to_csv(index=False).encode(),
                {"kind": "table", "rows": len(obj), "content_type": "text/csv"},
            )
    except ImportError:
        pass
    if hasattr(obj, "savefig"):  # a matplotlib figure
        if not name.endswith(".png"):
            name += ".png"
        buf = io.BytesIO()
        obj.savefig(buf, format="png", bbox_inches="tight")
        return name, buf.getvalue(), {"kind": "image", "content_type": "image/png"}
    import json

    return name, json.dumps(obj, default=str).encode(), {"content_type": "application/json"}


def log_artifact(name: str, obj: Any, **metadata: Any) -> dict | None:
    run_id = current_run_id()
    if run_id is None:
        print(f"[jupyter_mlinfra] artifact {name} (not in a job run: not stored)")
        return None
    name, data, meta = _to_bytes(name, obj)
    return _service().log_artifact(run_id, name, data, {**meta, **metadata})
