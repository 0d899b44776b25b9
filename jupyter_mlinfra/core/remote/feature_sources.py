"""The service side of feature view sources, transforms, compaction and usage records in
remote mode (the service runs no caller code and unpickles nothing).

- :func:`store_source`: a DataFrame source a client uploaded as parquet (streamed to a file
  by the door), kept content-addressed as ``features/sources/<sha256>.parquet``, the
  ``artifact:`` reference the client's view definition then names. Any process may later
  read it back through the view (:func:`view_source`), so a view defined in one process can
  be materialized from another.
- :func:`source_table`: the stored table an ``artifact:`` or ``job:`` source names, for a
  client defining a view: only uploaded source data (``features/sources/``), a job run's
  artifacts (``runs/<id>/artifacts/<name>``) of a run the caller may read, or the latest
  succeeded run of a job (``job:<job>/<artifact>``). Other keys of the service's artifact
  store (models, notebooks...) are not readable as sources.
- :func:`view_source`: a view version's batch source, for a caller who may read the view.
- :func:`view_transform`: a view version's transform as stored (cloudpickle bytes, sent by
  the client that defined it and run only by clients), for a caller who may change the view.
"""

from __future__ import annotations

import re

from ..errors import InvalidInput, NotFound, PermissionDenied, quote

SOURCE_PREFIX = "features/sources/"
_RUN_ARTIFACT = re.compile(r"^runs/[A-Za-z0-9_\-]+/artifacts/.+$")
SOURCE_KEY = re.compile(r"^features/sources/[0-9a-f]{64}\.parquet$")

PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"


def source_key(sha256: str) -> str:
    return f"{SOURCE_PREFIX}{sha256}.parquet"


def store_source(ws, path: str, sha256: str, size: int) -> dict:
    """Keep the parquet file at ``path`` (``sha256`` and ``size`` computed as it arrived)
    as source data; InvalidInput when it is not a parquet table (nothing stored)."""
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:
        raise InvalidInput(
            f"the uploaded source is not a parquet table: {type(exc).__name__}"
        ) from None
    key = source_key(sha256)
    if not ws.artifacts.exists(key):
        with open(path, "rb") as fh:
            ws.artifacts.put(key, fh, metadata={"uploaded_by": ws.user})
    return {"ref": f"artifact:{key}", "sha256": sha256, "bytes": size, "rows": rows}


def _media_type(key: str) -> str:
    return CSV if key.lower().endswith((".csv", ".tsv")) else PARQUET


def _readable_key(ws, ref: str) -> str:
    """The artifact key of an ``artifact:`` or ``job:`` source the caller may read."""
    from ..features.sources import SourceReader

    if not isinstance(ref, str) or not ref.startswith(("artifact:", "job:")):
        raise InvalidInput("ref must be an 'artifact:<key>' or 'job:<job>/<artifact>' source")
    if ref.startswith("job:"):
        key = SourceReader(ws).job_output(ref)  # the caller's view of the job's runs
    else:
        key = ref[len("artifact:") :]
        if _RUN_ARTIFACT.match(key):
            ws.service("jobs").get_run(key.split("/")[1])  # NotFound when not readable
        elif not SOURCE_KEY.match(key):
            raise PermissionDenied(
                f"artifact {quote(key)} is not source data: through the mlinfra service an "
                f"'artifact:' source is an uploaded DataFrame (features/sources/...) or a job "
                f"run's artifact (runs/<run id>/artifacts/<name>)"
            )
    if not ws.artifacts.exists(key):
        raise NotFound(f"source artifact {quote(key)} does not exist")
    return key


def source_table(ws, ref: str) -> tuple[str, str]:
    """``(artifact key, media type)`` of the table an ``artifact:``/``job:`` source names."""
    key = _readable_key(ws, ref)
    return key, _media_type(key)


def view_source(fs, name: str, version: int | None) -> tuple[str, str]:
    """``(artifact key, media type)`` of a view version's batch source."""
    current = fs.registry.resolve(name, version)
    kind = current.source_kind
    if kind == "push":
        raise InvalidInput(f"feature view {name!r} has no batch source; feed it with push()")
    if kind in ("csv", "parquet"):
        raise InvalidInput(
            f"the source of feature view {name!r} version {current.version} is a file of the "
            f"process that defined it ({quote(current.source_ref)}): read it there, or define "
            f"the view with a DataFrame, 'artifact:' or 'job:' source"
        )
    if kind == "dataframe":
        key = current.source_ref[len("artifact:") :]
        if not fs.ws.artifacts.exists(key):
            raise NotFound(
                f"the source data of feature view {name!r} version {current.version} was "
                f"never uploaded: define the view again from the process that holds it"
            )
        return key, PARQUET
    return source_table(fs.ws, current.source_ref)


def view_transform(fs, name: str, version: int | None) -> tuple[str, int]:
    """``(artifact key, version)`` of a view version's stored transform, for a caller who
    may change the view (the transform is needed only to materialize or push to it)."""
    current = fs.registry.resolve(name, version, owned=True)
    if not current.transform_key:
        raise NotFound(
            f"feature view {name!r} version {current.version} has no stored transform: "
            f"define it again (register_view) in a process that holds its transform"
        )
    return current.transform_key, current.version
