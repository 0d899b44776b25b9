"""The feature store from plain Python (and notebooks).

    from jupyter_mlinfra import features
    features.entity("customer", join_keys=["customer_id"])

    @features.feature_view("spend", entities="customer", source="txns.parquet", ttl="2d",
                           tags=["billing"], visibility="team")
    def spend(df):                        # the one transform, for batch and pushed rows
        df["amount_log"] = np.log1p(df["amount"])
        return df[["customer_id", "event_timestamp", "amount", "amount_log"]]

    features.materialize("spend")                         # incremental, no duplicates
    frame = features.get_training_frame(entity_df, ["spend:amount", "spend:amount_log"])
    frame.attrs["mlinfra_lineage"]                        # views, versions, fingerprints
    features.get_online_features(["spend:*"], [{"customer_id": 42}]).to_dict()
    features.push("spend", [{"customer_id": 42, "event_timestamp": now, "amount": 9.5}])

A source is a pandas DataFrame (stored as a parquet snapshot), a parquet or CSV path, an
``artifact:<key>`` URI, the output of a job as ``job:<job name>/<artifact name>`` (the table
the latest succeeded run logged with ``jupyter_mlinfra.log_artifact``), or None for a view fed
only by ``push``. Feature references are ``"view:feature"``, ``"view:*"`` or a pinned version
``"view@2:feature"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .core.features import reading
from .core.features.retrieval import LINEAGE_ATTR, lineage_of
from .core.features.serving import OnlineFeatures
from .core.workspace import get_workspace

if TYPE_CHECKING:  # imported with the catalog layer, when a call needs it
    from .core.features.service import FeatureService

__all__ = [
    "entity",
    "register",
    "feature_view",
    "list_views",
    "search",
    "describe",
    "get_view",
    "update",
    "delete",
    "materialize",
    "push",
    "compact",
    "get_training_frame",
    "get_online_features",
    "sample",
    "lineage",
    "record_usage",
    "list_entities",
    "list_views_page",
    "list_entities_page",
    "OnlineFeatures",
    "LINEAGE_ATTR",
]


def _svc() -> FeatureService:
    return get_workspace().service("features")


def entity(name: str, join_keys: Iterable[str] | str | None = None, description: str = "") -> dict:
    """Register an entity (idempotent). ``join_keys`` default to ``[name]``."""
    return _svc().register_entity(name, join_keys, description)


def list_entities() -> list[dict]:
    return _svc().list_entities()


def register(
    name: str,
    *,
    entities: Iterable[str] | str,
    source: Any = None,
    transform: Callable | None = None,
    event_timestamp: str = "event_timestamp",
    created_timestamp: str | None = None,
    ttl: Any = None,
    schema: dict[str, str] | None = None,
    description: str | None = None,
    tags: Iterable[str] | None = None,
    visibility: str | None = None,
) -> dict:
    """Register a feature view; a changed transform or schema makes a new version, an
    unchanged definition is a no-op. Returns ``{"view", "version", "created", ...}``."""
    return _svc().register_view(
        name,
        entities=entities,
        source=source,
        transform=transform,
        event_timestamp=event_timestamp,
        created_timestamp=created_timestamp,
        ttl=ttl,
        schema=schema,
        description=description,
        tags=tags,
        visibility=visibility,
    )


def feature_view(name: str, **options: Any) -> Callable[[Callable], Callable]:
    """Decorator form of :func:`register`: the decorated function is the transform."""

    def wrap(func: Callable) -> Callable:
        register(name, transform=func, **options)
        return func

    return wrap


def list_views(
    text: str | None = None,
    *,
    owner: str | None = None,
    tag: str | None = None,
    entity: str | None = None,
) -> list[dict]:
    """The views you may see, filtered by text (name, description, features, tags), owner,
    tag or entity."""
    return _svc().list_views(text=text, owner=owner, tag=tag, entity=entity)


search = list_views


def list_views_page(text: str | None = None, **options: Any) -> dict:
    """One page of :func:`list_views` (the envelope; ``limit``, ``offset``, ``cursor``)."""
    return _svc().list_views_page(text, **options)


def list_entities_page(**options: Any) -> dict:
    """One page of entities, by name (``q``, ``owner``, ``limit``, ``offset``, ``cursor``)."""
    return _svc().list_entities_page(**options)


def describe(name: str, version: int | None = None) -> dict:
    """Schema, versions, statistics, freshness, owner and used-by of a view."""
    return _svc().describe(name, version)


def get_view(name: str, version: int | None = None):
    return _svc().get_view(name, version)


def update(
    name: str,
    *,
    description: str | None = None,
    tags: Iterable[str] | None = None,
    visibility: str | None = None,
    ttl: Any = None,
) -> dict:
    return _svc().update_view(
        name, description=description, tags=tags, visibility=visibility, ttl=ttl
    )


def delete(name: str) -> dict:
    return _svc().delete_view(name)


def materialize(name: str, start: Any = None, end: Any = None, version: int | None = None) -> dict:
    """Compute [start, end) (default: from the last materialized time to now) into the
    offline store (parquet by day) and the online store."""
    return _svc().materialize(name, start=start, end=end, version=version)


def push(name: str, rows: Any) -> dict:
    """Streaming: run the view's transform on new rows (DataFrame, dict or list of dicts),
    append them offline and update the online store."""
    return _svc().push(name, rows)


def compact(name: str) -> dict:
    """Merge the many small files pushes leave in each day partition into one."""
    return _svc().compact(name)


def get_training_frame(
    entity_df,
    features: Any,
    *,
    timestamp_column: str | None = None,
    full_feature_names: bool = False,
):
    """``entity_df`` plus point-in-time-correct feature columns (one row per input row, in
    input order). The lineage is in ``frame.attrs["mlinfra_lineage"]``."""
    return reading.get_training_frame(
        get_workspace(), entity_df, features, timestamp_column, full_feature_names
    )


def get_online_features(features: Any, entity_rows: Any) -> OnlineFeatures:
    """Latest values per entity; values older than the TTL are ``None`` with status
    ``"expired"``."""
    return _svc().get_online_features(features, entity_rows)


def sample(name: str, n: int = 10):
    return _svc().sample(name, n)


def lineage(frame) -> dict:
    """The lineage record of a training frame (views, versions, features, fingerprints)."""
    return lineage_of(frame)


def record_usage(frame_or_lineage: Any, consumer: str) -> list[dict]:
    """Record that ``consumer`` (e.g. ``"model:churn/3"``) was built from a training frame,
    shown as "used by" on each view."""
    data = frame_or_lineage if isinstance(frame_or_lineage, dict) else lineage(frame_or_lineage)
    return _svc().record_usage(data, consumer)
