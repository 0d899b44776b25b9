"""Where a feature view's rows come from, and the schema its transform gives them.

A source is a pandas DataFrame (snapshotted to the artifact store), a parquet or CSV path, an
``artifact:<key>`` URI, ``job:<job>/<artifact>`` (that file of the job's latest succeeded run)
or nothing (rows are pushed). :class:`SourceReader` reads them; :func:`infer_schema` runs the
transform over a sample to find the join-key and feature types.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .definitions import (
    FeatureSpec,
    TransformCode,
    ViewVersion,
    check_name,
    coerce_column,
    infer_dtype,
    to_utc_naive,
)

SCHEMA_SAMPLE_ROWS = 10_000


@dataclass
class SourceData:
    """A described source: its kind and reference (what a view version stores), the rows
    read from it (``None`` for a push-only view) and, for a DataFrame, its parquet snapshot."""

    kind: str
    ref: str
    frame: Any = None
    snapshot: bytes | None = None

    @property
    def snapshot_key(self) -> str | None:
        """The artifact key the DataFrame snapshot is kept under."""
        return self.ref[len("artifact:") :] if self.kind == "dataframe" else None


def apply_transform(func: Callable, frame, view: str):
    """``func(frame)`` (on a copy), which must give a DataFrame; its failure an InvalidInput
    naming the view."""
    import pandas as pd

    try:
        out = func(frame.copy())
    except Exception as exc:
        raise InvalidInput(
            f"the transform of feature view {view!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(out, pd.DataFrame):
        raise InvalidInput(
            f"the transform of feature view {view!r} must return a pandas "
            f"DataFrame, got {type(out).__name__}"
        )
    return out


class SourceReader:
    """Reads sources through the workspace's artifact store (and its jobs, for ``job:``)."""

    def __init__(self, workspace) -> None:
        self.ws = workspace

    def describe(self, source: Any) -> SourceData:
        """The kind and reference of ``source``, with its rows read to infer the schema."""
        import pandas as pd

        if source is None:
            return SourceData("push", "")
        if isinstance(source, pd.DataFrame):
            buffer = io.BytesIO()
            source.to_parquet(buffer, index=False)
            snapshot = buffer.getvalue()
            digest = hashlib.sha256(snapshot).hexdigest()
            return SourceData(
                "dataframe", f"artifact:features/sources/{digest}.parquet", source, snapshot
            )
        if isinstance(source, Path):
            source = str(source)
        if not isinstance(source, str):
            raise InvalidInput(
                "source must be a pandas DataFrame, a parquet or CSV path, an "
                "'artifact:<key>' URI, 'job:<job>/<artifact>' or None (push "
                f"only); got "
                f"{type(source).__name__}"
            )
        if source.startswith("artifact:"):
            key = source[len("artifact:") :]
            return SourceData("artifact", source, self.read_artifact_table(key))
        if source.startswith("job:"):
            return SourceData("job", source, self.read_artifact_table(self.job_output(source)))
        path = Path(source).expanduser().resolve()
        if not path.exists():
            raise InvalidInput(f"source {source!r} does not exist")
        kind = "csv" if path.suffix.lower() in (".csv", ".tsv") else "parquet"
        return SourceData(kind, str(path), read_path(kind, str(path)))

    def keep_snapshot(self, data: SourceData) -> None:
        """Store a DataFrame source's snapshot (content-addressed: once)."""
        key = data.snapshot_key
        if key is not None and not self.ws.artifacts.exists(key):
            self.ws.artifacts.put(key, data.snapshot)

    def load(self, version: ViewVersion):
        """The rows of a view version's batch source."""
        if version.source_kind == "push":
            raise InvalidInput(
                f"feature view {version.view!r} has no batch source; feed it with push()"
            )
        if version.source_kind in ("dataframe", "artifact"):
            return self.read_artifact_table(version.source_ref[len("artifact:") :])
        if version.source_kind == "job":
            return self.read_artifact_table(self.job_output(version.source_ref))
        return read_path(version.source_kind, version.source_ref)

    def job_output(self, source: str) -> str:
        """``job:<job name>/<artifact name>``: the artifact key of that file in the latest
        succeeded run of the job (what ``jobs.log_artifact(name, df)`` stored)."""
        job, _, name = source[len("job:") :].partition("/")
        if not job or not name:
            raise InvalidInput(
                f"invalid job source {source!r}: use 'job:<job name>/<artifact "
                "name>' (e.g. job:nightly_etl/txns.parquet)"
            )
        try:
            runs = self.ws.service("jobs").list_runs(job=job, state="succeeded", limit=1)
        except NotFound as exc:
            raise InvalidInput(f"source {source!r}: {exc.message}") from None
        if not runs["items"]:
            raise InvalidInput(f"source {source!r}: job {job!r} has no succeeded run yet")
        key = f"runs/{runs['items'][0]['id']}/artifacts/{name}"
        if not self.ws.artifacts.exists(key):
            raise InvalidInput(
                f"source {source!r}: the latest succeeded run "
                f"{runs['items'][0]['id']} has no artifact {name!r}"
            )
        return key

    def read_artifact_table(self, key: str):
        import pandas as pd

        if not self.ws.artifacts.exists(key):
            raise InvalidInput(f"source artifact {key!r} does not exist")
        data = self.ws.artifacts.get(key)
        if key.lower().endswith((".csv", ".tsv")):
            return pd.read_csv(io.BytesIO(data), sep="\t" if key.endswith(".tsv") else ",")
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise InvalidInput(
                f"source artifact {key!r} is not a parquet file (name CSV artifacts *.csv): {exc}"
            ) from None


def read_path(kind: str, path: str):
    import pandas as pd

    try:
        if kind == "csv":
            return pd.read_csv(path, sep="\t" if path.endswith(".tsv") else ",")
        return pd.read_parquet(path)
    except Exception as exc:
        raise InvalidInput(f"cannot read source {path}: {exc}") from None


def infer_schema(
    view: str,
    code: TransformCode,
    frame,
    join_keys: list[str],
    event_ts: str,
    created_ts: str | None,
    declared: dict[str, str],
) -> tuple[dict[str, str], list[FeatureSpec]]:
    """``({join key: dtype}, [feature specs])`` of a view: from its transform's output on a
    sample of ``frame`` (declared types win), or from ``declared`` alone without a source."""
    declared = dict(declared)
    if frame is None:
        if not declared:
            raise InvalidInput(
                f"feature view {view!r} has no source: give its schema, "
                "e.g. schema={'spend': 'float64'}"
            )
        keys = {k: declared.pop(k, "string") for k in join_keys}
        features = [
            FeatureSpec(n, t) for n, t in declared.items() if n not in (event_ts, created_ts)
        ]
        for f in features:
            check_name(f.name, "feature")
        return keys, features
    sample = frame.head(SCHEMA_SAMPLE_ROWS)
    out = apply_transform(code.func, sample, view)
    missing = [
        c
        for c in [*join_keys, event_ts, *([created_ts] if created_ts else [])]
        if c not in out.columns
    ]
    if missing:
        raise InvalidInput(
            f"feature view {view!r}: the transform's output has no column "
            f"{', '.join(map(repr, missing))} (columns: {list(out.columns)})"
        )
    to_utc_naive(out[event_ts], f"event timestamp column {event_ts!r}")
    skip = {*join_keys, event_ts, created_ts}
    features = []
    for column in out.columns:
        if column in skip:
            continue
        check_name(str(column), "feature")
        inferred = infer_dtype(out[column])
        dtype = declared.pop(column, inferred)
        coerce_column(out[column], dtype, f"feature {column!r} of view {view!r}")
        features.append(FeatureSpec(str(column), dtype))
    if declared:
        raise InvalidInput(
            f"feature view {view!r}: declared features "
            f"{sorted(declared)} are not in the transform's output"
        )
    if not features:
        raise InvalidInput(
            f"feature view {view!r}: the transform's output has no feature "
            "columns besides the keys and timestamps"
        )
    keys = {k: infer_dtype(out[k]) for k in join_keys}
    return keys, features
