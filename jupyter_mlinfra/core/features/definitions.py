"""Feature definitions: entities, views, TTLs, feature types and the transformation function.

A feature view is a named group of features computed by one transformation function
``transform(df: pandas.DataFrame) -> pandas.DataFrame`` from a source. The transform's output
has the entity join keys, the event-timestamp column (and optionally a created-timestamp
column) and one column per feature. Its feature names and types are inferred from the output
and checked on every later run (materialization or push), so batch and streaming rows go
through the very same code and the same schema.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInput
from ..identity import VISIBILITIES
from ..times import to_iso_z, utcnow

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
DTYPES = ("int64", "float64", "bool", "string", "datetime")
# Internal column names of the offline store (user columns may not start with "_mlinfra").
EVENT_TS = "_mlinfra_event_ts"
CREATED_TS = "_mlinfra_created_ts"

_TTL_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s|ms)", re.IGNORECASE)
_TTL_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(
            f"invalid {what} name {name!r}: use a letter then letters, digits "
            "or '_' (at most 128 characters)"
        )
    return name


def check_visibility(visibility: str | None, got: bool = True) -> None:
    if visibility is not None and visibility not in VISIBILITIES:
        raise InvalidInput(
            f"visibility must be one of {', '.join(VISIBILITIES)}"
            + (f", got {visibility!r}" if got else "")
        )


def parse_tags(tags: Iterable[str] | str) -> list[str]:
    """Tags from a list or a comma/space separated text; each 1..64 characters."""
    if isinstance(tags, str):
        tags = [t for t in tags.replace(",", " ").split()]
    out = []
    for t in tags:
        t = str(t).strip()
        if not t or len(t) > 64:
            raise InvalidInput(f"invalid tag {t!r}")
        out.append(t)
    return out


def parse_ttl(ttl: Any) -> float | None:
    """Seconds from ``"2d"``, ``"1d12h"``, ``"90m"``, ``"30s"``, a number of seconds or a
    ``timedelta``. ``None``, ``0`` or ``"none"`` mean no limit."""
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        seconds = float(ttl)
    elif isinstance(ttl, str):
        text = ttl.strip().lower()
        if text in ("", "none", "0", "inf", "infinite"):
            return None
        try:
            return _positive(float(text), ttl)
        except ValueError:
            pass
        pos, seconds = 0, 0.0
        for match in _TTL_RE.finditer(text):
            if text[pos : match.start()].strip():
                break
            seconds += float(match.group(1)) * _TTL_UNITS[match.group(2)]
            pos = match.end()
        if pos == 0 or text[pos:].strip():
            raise InvalidInput(
                f"invalid TTL {ttl!r}: use e.g. '2d', '12h', '1d12h', '30m' or a number of seconds"
            )
    else:
        raise InvalidInput(f"invalid TTL {ttl!r}")
    if seconds == 0:
        return None
    return _positive(seconds, ttl)


def _positive(seconds: float, raw: Any) -> float:
    if seconds < 0:
        raise InvalidInput(f"TTL must not be negative, got {raw!r}")
    return seconds


def format_ttl(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    parts = []
    rest = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            count = int(rest // size)
            parts.append(f"{count}{unit}")
            rest -= count * size
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


def parse_time(value: Any, what: str = "time") -> datetime:
    """An aware UTC datetime from a datetime, pandas Timestamp or ISO string (naive = UTC)."""
    import pandas as pd

    if value is None:
        raise InvalidInput(f"{what} is required")
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"invalid {what} {value!r}: {exc}") from None
    if ts is pd.NaT:
        raise InvalidInput(f"invalid {what} {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


# -- types --------------------------------------------------------------------------------------
def infer_dtype(series) -> str:
    import pandas as pd
    from pandas.api import types as pdt

    if pdt.is_bool_dtype(series.dtype):
        return "bool"
    if pdt.is_integer_dtype(series.dtype):
        return "int64"
    if pdt.is_float_dtype(series.dtype):
        return "float64"
    if pdt.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if pdt.is_string_dtype(series.dtype) or series.dtype == object:
        values = series.dropna()
        if values.empty or all(isinstance(v, str) for v in values):
            return "string"
        if all(isinstance(v, (bool,)) for v in values):
            return "bool"
        if all(isinstance(v, (pd.Timestamp, datetime)) for v in values):
            return "datetime"
    raise InvalidInput(
        f"column {series.name!r} has type {series.dtype}, which a feature "
        f"cannot have: use numbers, booleans, strings or timestamps"
    )


def normalize_dtype(name: str) -> str:
    aliases = {
        "int": "int64",
        "integer": "int64",
        "int32": "int64",
        "float": "float64",
        "double": "float64",
        "float32": "float64",
        "str": "string",
        "object": "string",
        "boolean": "bool",
        "timestamp": "datetime",
        "datetime64": "datetime",
    }
    dtype = aliases.get(str(name).lower(), str(name).lower())
    if dtype not in DTYPES:
        raise InvalidInput(f"unknown feature type {name!r}: choose from {', '.join(DTYPES)}")
    return dtype


def coerce_column(series, dtype: str, label: str):
    """``series`` converted to the declared feature type, or InvalidInput if it cannot be."""
    import numpy as np
    from pandas.api import types as pdt

    try:
        if dtype == "float64":
            if not (pdt.is_numeric_dtype(series.dtype) or series.isna().all()):
                raise TypeError
            return series.astype("float64")
        if dtype == "int64":
            if pdt.is_integer_dtype(series.dtype) and not series.isna().any():
                return series.astype("int64")
            if not (pdt.is_numeric_dtype(series.dtype) or series.isna().all()):
                raise TypeError
            values = series.astype("float64")
            finite = values.dropna()
            if not np.all(np.equal(np.mod(finite, 1), 0)):
                raise TypeError
            return values.astype("Int64")
        if dtype == "bool":
            if pdt.is_bool_dtype(series.dtype):
                return series.astype("boolean")
            if series.dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all():
                return series.astype("boolean")
            raise TypeError
        if dtype == "string":
            if not (pdt.is_string_dtype(series.dtype) or series.dtype == object):
                raise TypeError
            if not series.dropna().map(lambda v: isinstance(v, str)).all():
                raise TypeError
            return series.astype("string")
        if dtype == "datetime":
            return to_utc_naive(series, label)
    except (TypeError, ValueError):
        pass
    raise InvalidInput(f"{label}: expected {dtype}, the transform produced {series.dtype}")


def to_utc_naive(series, label: str):
    """Timestamps as naive UTC ``datetime64[us]`` (naive input is taken as UTC)."""
    import pandas as pd
    from pandas.api import types as pdt

    if not pdt.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series, utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{label}: not a timestamp column ({exc})") from None
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[us]")


# -- transforms ---------------------------------------------------------------------------------
def identity(df):
    """The transform of a view registered without one: the source rows as they are."""
    return df


@dataclass
class TransformCode:
    """A transformation function with its source text and a stable fingerprint."""

    func: Callable
    name: str
    source: str
    fingerprint: str

    @classmethod
    def capture(cls, func: Callable | None, source: str | None = None) -> TransformCode:
        if func is None:
            func = identity
        if not callable(func):
            raise InvalidInput(
                f"transform must be a function taking and returning a pandas "
                f"DataFrame, got {type(func).__name__}"
            )
        name = getattr(func, "__qualname__", getattr(func, "__name__", "transform"))
        if source is None:
            try:
                source = textwrap.dedent(inspect.getsource(func))
            except (OSError, TypeError):
                source = ""
        if source:
            digest = hashlib.sha256(_normalize_source(source).encode()).hexdigest()
        else:
            import cloudpickle

            digest = hashlib.sha256(cloudpickle.dumps(func)).hexdigest()
        return cls(func=func, name=name, source=source, fingerprint=digest)

    def dumps(self) -> bytes:
        import cloudpickle

        return cloudpickle.dumps(self.func)


def _normalize_source(source: str) -> str:
    lines = [line.rstrip() for line in source.strip().splitlines()]
    return "\n".join(line for line in lines if line)


def load_transform(data: bytes) -> Callable:
    import cloudpickle

    return cloudpickle.loads(data)


# -- references ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureRef:
    """``view:feature``, ``view:*`` or a pinned version ``view@3:feature``."""

    view: str
    feature: str  # "*" = every feature of the view
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> FeatureRef:
        if not isinstance(text, str) or ":" not in text:
            raise InvalidInput(
                f"invalid feature reference {text!r}: use 'view:feature', "
                "'view:*' or 'view@VERSION:feature'"
            )
        view_part, _, feature = text.partition(":")
        view, _, version = view_part.partition("@")
        version_number = None
        if version:
            try:
                version_number = int(version.lstrip("v"))
            except ValueError:
                raise InvalidInput(f"invalid version in feature reference {text!r}") from None
        check_name(view, "feature view")
        if feature != "*":
            check_name(feature, "feature")
        return cls(view=view, feature=feature, version=version_number)

    def __str__(self) -> str:
        version = f"@{self.version}" if self.version is not None else ""
        return f"{self.view}{version}:{self.feature}"


def parse_refs(features: Any) -> list[FeatureRef]:
    if isinstance(features, str):
        features = [features]
    if not features:
        raise InvalidInput("no features requested: pass e.g. ['view:feature', 'view:*']")
    return [FeatureRef.parse(f) for f in features]


# -- the stored definition ----------------------------------------------------------------------
@dataclass
class FeatureSpec:
    name: str
    dtype: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ViewVersion:
    """One immutable version of a feature view, as stored in the catalog."""

    view: str
    version: int
    fingerprint: str
    entities: list[str]
    join_keys: dict[str, str]
    features: list[FeatureSpec]
    event_timestamp_column: str
    created_timestamp_column: str
    source_kind: str
    source_ref: str
    transform_name: str
    transform_source: str
    transform_key: str
    created_by: str
    created_at: datetime | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def dtype_of(self, name: str) -> str:
        for f in self.features:
            if f.name == name:
                return f.dtype
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "view": self.view,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "entities": self.entities,
            "join_keys": self.join_keys,
            "features": [f.to_dict() for f in self.features],
            "event_timestamp_column": self.event_timestamp_column,
            "created_timestamp_column": self.created_timestamp_column or None,
            "source": {"kind": self.source_kind, "ref": self.source_ref},
            "transform": {"name": self.transform_name, "source": self.transform_source},
            "created_by": self.created_by,
            "created_at": to_iso_z(self.created_at),
        }

    @classmethod
    def from_record(cls, rec) -> ViewVersion:
        return cls(
            view=rec.view_name,
            version=rec.version,
            fingerprint=rec.fingerprint,
            entities=json.loads(rec.entities),
            join_keys=json.loads(rec.join_keys),
            features=[FeatureSpec(**f) for f in json.loads(rec.features)],
            event_timestamp_column=rec.event_timestamp_column,
            created_timestamp_column=rec.created_timestamp_column,
            source_kind=rec.source_kind,
            source_ref=rec.source_ref,
            transform_name=rec.transform_name,
            transform_source=rec.transform_source,
            transform_key=rec.transform_key,
            created_by=rec.created_by,
            created_at=rec.created_at,
        )


def definition_fingerprint(
    *,
    transform: str,
    entities: list[str],
    join_keys: dict[str, str],
    features: list[FeatureSpec],
    event_ts: str,
    created_ts: str,
    source_kind: str,
    source_ref: str,
) -> str:
    """What makes a new version: the transform, the schema, the keys, the timestamps, the
    source. Description, tags, visibility and TTL are updated in place."""
    payload = json.dumps(
        {
            "transform": transform,
            "entities": entities,
            "join_keys": join_keys,
            "features": [f.to_dict() for f in features],
            "event_ts": event_ts,
            "created_ts": created_ts,
            "source_kind": source_kind,
            "source_ref": source_ref,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


utc_now = utcnow  # core.times' clock, under the name this package's modules use
