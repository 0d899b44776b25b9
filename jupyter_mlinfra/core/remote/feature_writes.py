"""The service side of feature writes in remote mode, which runs no caller code.

- :func:`define_view`: a view definition the client inferred in its own process (schema,
  keys, timestamps, the transform's source text and fingerprint; its pickle only as bytes) recorded
  as the registry records a local ``register_view``: a changed transform or schema makes a
  new version, an unchanged one updates description, tags, visibility and TTL in place. The
  transform's pickle, when the client sends it, is stored as bytes (never loaded here) for
  clients that materialize or push from another process.
- :func:`store_rows`: rows the client computed with the view's transform in its own process
  (parquet bytes), checked against the view version's schema and stored offline and online
  as a local materialize (over [start, end), skipping what is done) or push would.
"""

from __future__ import annotations

import hashlib
import io
import re

from ..errors import InvalidInput, quote
from ..features.definitions import (
    FeatureSpec,
    _normalize_source,
    check_name,
    check_visibility,
    definition_fingerprint,
    normalize_dtype,
    parse_tags,
    parse_ttl,
)
from ..features.registry import NewVersion

SOURCE_KINDS = ("dataframe", "artifact", "job", "csv", "parquet", "push")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _text(body: dict, key: str, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{key!r} must be a string")
    return value


def define_view(fs, name: str, body: dict) -> dict:
    """Record view ``name`` as ``body`` describes it, for the caller ``fs`` acts as (audited
    as a local definition: ``features.define``)."""
    from .. import audit

    with audit.action(fs.ws, "features.define", name, f"define feature view {name}"):
        return _define_view(fs, name, body)


def _define_view(fs, name: str, body: dict) -> dict:
    if not isinstance(body, dict):
        raise InvalidInput("the definition must be a JSON object")
    check_name(name, "feature view")
    entities = body.get("entities")
    if isinstance(entities, str):
        entities = [entities]
    if (
        not isinstance(entities, list)
        or not entities
        or not all(isinstance(e, str) for e in entities)
    ):
        raise InvalidInput(f"feature view {name!r} needs at least one entity")
    visibility = _text(body, "visibility")
    check_visibility(visibility)
    ttl = body.get("ttl")
    ttl_seconds = parse_ttl(ttl)
    tags = body.get("tags")
    tag_list = sorted(set(parse_tags(tags))) if tags is not None else None
    event_ts = _text(body, "event_timestamp", "event_timestamp") or "event_timestamp"
    created_ts = _text(body, "created_timestamp") or ""
    check_name(event_ts, "event timestamp column")
    if created_ts:
        check_name(created_ts, "created timestamp column")
    source = _text(body, "transform_source", "") or ""
    transform_name = _text(body, "transform_name", "transform") or "transform"
    if source:
        transform_fp = hashlib.sha256(_normalize_source(source).encode()).hexdigest()
    else:
        transform_fp = _text(body, "transform_fingerprint", "") or ""
        if not _SHA256.match(transform_fp):
            raise InvalidInput(
                "a transform without source text needs its 'transform_fingerprint' (64 hex digits)"
            )
    kind, ref = _text(body, "source_kind", "push") or "push", _text(body, "source_ref", "") or ""
    if kind not in SOURCE_KINDS:
        raise InvalidInput(f"source_kind must be one of {list(SOURCE_KINDS)}, got {kind!r}")
    raw_keys, raw_features = body.get("join_keys"), body.get("features")
    if not isinstance(raw_keys, dict) or not isinstance(raw_features, list) or not raw_features:
        raise InvalidInput(
            "send the inferred schema: 'join_keys' ({key: dtype}) and "
            "'features' ([{name, dtype}], at least one)"
        )
    features = []
    for f in raw_features:
        if (
            not isinstance(f, dict)
            or not isinstance(f.get("name"), str)
            or not isinstance(f.get("dtype"), str)
        ):
            raise InvalidInput("each feature must be {'name': str, 'dtype': str}")
        check_name(f["name"], "feature")
        features.append(FeatureSpec(f["name"], normalize_dtype(f["dtype"])))
    join_keys, latest = fs.registry.prepare_view(name, entities)
    if sorted(raw_keys) != sorted(join_keys):
        raise InvalidInput(
            f"feature view {name!r}: the join keys of its entities are "
            f"{join_keys}, the definition gives {sorted(raw_keys)}"
        )
    key_types = {k: normalize_dtype(str(raw_keys[k])) for k in join_keys}
    if kind == "dataframe":
        _check_uploaded(fs, ref)
    fingerprint = definition_fingerprint(
        transform=transform_fp,
        entities=entities,
        join_keys=key_types,
        features=features,
        event_ts=event_ts,
        created_ts=created_ts,
        source_kind=kind,
        source_ref=ref,
    )
    pickled = _transform_pickle(body)
    new = None
    if latest is None or latest.fingerprint != fingerprint:
        # the transform runs only in clients: its pickle (when sent) is stored as bytes,
        # never loaded here, for a client materializing from another process
        transform_key = ""
        if pickled is not None:
            transform_key = f"features/transforms/{transform_fp}.pkl"
            if not fs.ws.artifacts.exists(transform_key):
                fs.ws.artifacts.put(transform_key, pickled, metadata={"name": transform_name})
        new = NewVersion(
            fingerprint=fingerprint,
            entities=entities,
            join_keys=key_types,
            features=features,
            event_timestamp=event_ts,
            created_timestamp=created_ts,
            source_kind=kind,
            source_ref=ref,
            transform_name=transform_name,
            transform_source=source,
            transform_key=transform_key,
        )
    version, changed = fs.registry.save_view(
        name,
        new,
        visibility=visibility,
        description=_text(body, "description"),
        tags=tag_list,
        ttl=ttl,
        ttl_seconds=ttl_seconds,
    )
    fs._changed()
    return {
        "view": name,
        "version": version,
        "created": new is not None,
        "changed": changed,
        "features": [f.to_dict() for f in features],
        "join_keys": key_types,
        "source": {"kind": kind, "ref": ref},
    }


def _check_uploaded(fs, ref: str) -> None:
    """A DataFrame source names data the service holds (``POST /features/sources``). The
    client defines first and uploads only when told the data is missing, so a refused
    definition uploads nothing."""
    from .feature_sources import SOURCE_KEY

    key = ref[len("artifact:") :] if ref.startswith("artifact:") else ""
    if not SOURCE_KEY.match(key):
        raise InvalidInput(
            "a DataFrame source is named by the ref POST /features/sources answered "
            "(artifact:features/sources/<sha256>.parquet)"
        )
    if not fs.ws.artifacts.exists(key):
        raise InvalidInput(
            f"the DataFrame source {quote(ref)} has not been uploaded: send its parquet "
            f"bytes to POST /features/sources, then the definition again",
            details={"missing_source": ref},
        )


def _transform_pickle(body: dict) -> bytes | None:
    """The transform's cloudpickle bytes (base64 in ``transform_pickle``), not loaded."""
    import base64
    import binascii

    raw = body.get("transform_pickle")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidInput("'transform_pickle' must be a base64 string")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("'transform_pickle' is not valid base64") from None
    if not data:
        raise InvalidInput("'transform_pickle' is empty")
    return data


def read_rows(data: bytes):
    """The DataFrame of uploaded parquet bytes (InvalidInput for anything else)."""
    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:
        raise InvalidInput(
            f"the 'rows' file is not a parquet table: {type(exc).__name__}"
        ) from None


def check_columns(current, frame) -> None:
    """Every column of the view version's schema is there, and no other."""
    label = f"feature view {current.view!r} version {current.version}"
    expected = [*current.join_keys, current.event_timestamp_column, *current.feature_names]
    if current.created_timestamp_column:
        expected.append(current.created_timestamp_column)
    for column in expected:
        if column not in frame.columns:
            raise InvalidInput(f"the uploaded rows lack column {quote(column)} of {label}")
    for column in frame.columns:
        if column not in expected:
            raise InvalidInput(
                f"column {quote(str(column))} of the uploaded rows is not in the schema of {label}"
            )


def store_rows(fs, name: str, meta: dict, data: bytes) -> dict:
    """Store rows computed by the caller: ``meta`` = {mode: materialize|push, version,
    start, end (materialize)}; owner rules as for a local materialize or push, audited as
    they are (``features.materialize`` / ``features.push``)."""
    from .. import audit

    if not isinstance(meta, dict):
        raise InvalidInput("the 'meta' field must be a JSON object")
    mode = meta.get("mode")
    if mode not in ("materialize", "push"):
        raise InvalidInput("'mode' must be 'materialize' or 'push'")
    text = (
        f"materialize feature view {name}"
        if mode == "materialize"
        else f"push rows to feature view {name}"
    )
    with audit.action(fs.ws, f"features.{mode}", name, text):
        return _store_rows(fs, name, meta, data, mode)


def _store_rows(fs, name: str, meta: dict, data: bytes, mode: str) -> dict:
    version = meta.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidInput("'version' must be an integer")
    current = fs.registry.resolve(name, version, owned=True)
    frame = read_rows(data)
    check_columns(current, frame)
    if mode == "push":
        if frame.empty:
            raise InvalidInput("push needs at least one row")
        answer = fs.materializer.store_pushed(current, frame)
    else:
        start, end = meta.get("start"), meta.get("end")
        if not isinstance(start, str) or not isinstance(end, str):
            raise InvalidInput("materialize needs 'start' and 'end' (ISO times)")
        answer = fs.materializer.store_materialized(current, frame, start, end)
    fs._changed()
    return answer
