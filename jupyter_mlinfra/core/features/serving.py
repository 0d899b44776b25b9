"""Online serving: the latest feature values of entities, read from the online store.

A request's plan (which view versions, where each feature sits in the stored payload) is
resolved against the registry once and reused for a few seconds, so the hot path is one
prepared read per view and a JSON decode, and no read at all for entities already read while
the store has not changed (see :class:`OnlineServing`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from .definitions import parse_refs
from .online import OnlineStore, entity_key
from .retrieval import plan_features

if TYPE_CHECKING:
    from .registry import FeatureRegistry

RESOLVE_TTL = 5.0  # seconds a resolved online plan is reused without asking the catalog


@dataclass
class OnlinePlanView:
    view: str
    version: int
    keys: list[str]
    ttl_seconds: float | None
    positions: list[int]  # index of each requested feature in the stored payload
    names: list[str]  # output names
    timestamps: list[str] = field(default_factory=list)  # outputs of type datetime


@dataclass
class OnlineFeatures:
    """The result of an online lookup, one entry per requested entity row, in order.

    ``rows[i]`` has the entity's join keys and one value per feature (``None`` when missing
    or older than the TTL; timestamps as aware UTC datetimes); ``status[i][feature]`` is
    ``"present"``, ``"not_found"`` or ``"expired"`` (older than the view's TTL);
    ``event_times[i][view]`` is the event time (UTC epoch seconds) of the stored row or
    ``None``.
    """

    feature_names: list[str]
    rows: list[dict[str, Any]]
    status: list[dict[str, str]]
    event_times: list[dict[str, float | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, list]:
        """Columns: each join key and feature to a list of values, plus ``<feature>__status``."""
        out: dict[str, list] = {}
        for row in self.rows:
            for k, v in row.items():
                out.setdefault(k, []).append(v)
        for name in self.feature_names:
            out[f"{name}__status"] = [s[name] for s in self.status]
        return out

    def to_df(self):
        import pandas as pd

        return pd.DataFrame(self.to_dict())

    @property
    def expired(self) -> list[list[str]]:
        """For each row, the features whose value was dropped for being older than the TTL."""
        return [[k for k, v in s.items() if v == "expired"] for s in self.status]

    def to_json(self) -> dict:
        """As JSON (the REST answer): times, timestamp features and each view's event time
        alike, as ISO 8601 UTC with ``Z``."""
        from ..times import from_epoch, to_iso_z

        return {
            "features": self.feature_names,
            "rows": [
                {k: to_iso_z(v) if isinstance(v, datetime) else v for k, v in row.items()}
                for row in self.rows
            ],
            "status": self.status,
            "event_times": [
                {view: to_iso_z(from_epoch(t)) for view, t in times.items()}
                for times in self.event_times
            ],
        }


class _ReadCache:
    """Decoded rows read from the online store while its change token stays ``token``:
    ``views[(view, version)][entity_key]`` is ``(event_ts, values)`` or None (no row)."""

    __slots__ = ("token", "views", "size")

    def __init__(self, token: Any) -> None:
        self.token = token
        self.views: dict[tuple[str, int], dict[str, tuple[float, list] | None]] = {}
        self.size = 0


class OnlineServing:
    """Online lookups for the registry's identity.

    What a lookup reads from the online store is kept (decoded) while the store's
    :meth:`~.online.OnlineStore.change_token` stays the same: any write, by this process or
    another, changes the token and the next lookup reads the store again. So repeated lookups
    of the same entities cost a dictionary lookup each and never return a value older than
    the store's. At most :attr:`CACHE_ENTRIES` entities are kept (then the cache starts over).
    """

    CACHE_ENTRIES = 100_000

    def __init__(self, registry: FeatureRegistry, online: Callable[[], OnlineStore]) -> None:
        self.registry = registry
        self._online = online  # gives the online store (opened on first use)
        self._plans: dict[tuple, tuple[float, list[OnlinePlanView], list[str]]] = {}
        self._cache: _ReadCache | None = None

    def forget_plans(self) -> None:
        """Drop the resolved plans (after a definition changed)."""
        self._plans.clear()
        self._cache = None

    def plan(self, features: tuple) -> tuple[list[OnlinePlanView], list[str]]:
        key = (self.registry.identity, features)
        cached = self._plans.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        views, names = [], []
        for p in plan_features(self.registry, parse_refs(list(features)), False, []):
            version = p.version
            views.append(
                OnlinePlanView(
                    view=version.view,
                    version=version.version,
                    keys=list(version.join_keys),
                    ttl_seconds=p.ttl_seconds,
                    positions=[version.feature_names.index(f) for f in p.columns.values()],
                    names=list(p.columns),
                    timestamps=[
                        out for out, f in p.columns.items() if version.dtype_of(f) == "datetime"
                    ],
                )
            )
            names += list(p.columns)
        self._plans[key] = (now + RESOLVE_TTL, views, names)
        return views, names

    def _entries(
        self,
        store: OnlineStore,
        cache: _ReadCache | None,
        pv: OnlinePlanView,
        keys: list[str],
        limit: float,
    ) -> dict[str, tuple[float, Any] | None]:
        """``{entity_key: (event_ts, values) or None}`` covering ``keys``, from the cache,
        reading (in one query) only the keys it lacks. ``values`` is the decoded payload for
        rows not older than ``limit``, the payload's JSON text for the others (decoded if a
        later lookup needs them)."""
        if cache is None:
            entries: dict[str, tuple[float, Any] | None] = {}
            wanted = keys if len(keys) == 1 else list(dict.fromkeys(keys))
        else:
            vk = (pv.view, pv.version)
            entries = cache.views.get(vk)  # type: ignore[assignment]
            if entries is None:
                entries = cache.views[vk] = {}
            wanted = [k for k in dict.fromkeys(keys) if k not in entries]
            if not wanted:
                return entries
            if cache.size + len(wanted) > self.CACHE_ENTRIES:
                # Full: start over (this lookup fills a cache of its own).
                self._cache = cache = _ReadCache(cache.token)
                entries = cache.views[vk] = {}
                wanted = list(dict.fromkeys(keys))
            cache.size += len(wanted)
        found = store.read(pv.view, pv.version, wanted)
        if len(found) < len(wanted):
            for k in wanted:
                if k not in found:
                    entries[k] = None
        live = [k for k, f in found.items() if f[0] >= limit]
        for k, f in found.items():
            entries[k] = (f[0], f[2])
        if live:
            decoded = json.loads("[" + ",".join([found[k][2] for k in live]) + "]")
            for k, values in zip(live, decoded):
                entries[k] = (found[k][0], values)
        return entries

    def get_online_features(self, features: Any, entity_rows: Any) -> OnlineFeatures:
        """The latest values of ``features`` for each entity row (dicts of join keys).
        Values older than the view's TTL come back as ``None`` with status ``"expired"``."""
        if isinstance(features, str):
            features = (features,)
        views, names = self.plan(tuple(features))
        if isinstance(entity_rows, dict):
            entity_rows = [entity_rows]
        elif hasattr(entity_rows, "to_dict") and hasattr(entity_rows, "columns"):
            entity_rows = entity_rows.to_dict("records")
        n = len(entity_rows)
        rows = [dict(r) for r in entity_rows]
        states: list[list[dict[str, str]]] = [[] for _ in range(n)]  # per view, in order
        times: list[dict[str, float | None]] = [{} for _ in range(n)]
        now = time.time()
        store = self._online()
        token = store.change_token()
        cache = self._cache
        if token is None:
            cache = None
        elif cache is None or cache.token != token:
            # Something was written since: read the store again. A lookup still running
            # with the old cache fills that one, no longer reachable from here.
            cache = self._cache = _ReadCache(token)
        for pv in views:
            try:
                if len(pv.keys) == 1:
                    k0 = pv.keys[0]
                    keys = [
                        v if type(v) is str else str(v) if type(v) is int else entity_key((v,))
                        for v in [r[k0] for r in rows]
                    ]
                else:
                    keys = [entity_key([r[k] for k in pv.keys]) for r in rows]
            except KeyError as exc:
                raise InvalidInput(
                    f"entity row lacks join key {exc.args[0]!r} (needed by view {pv.view!r})"
                ) from None
            limit = -math.inf if pv.ttl_seconds is None else now - pv.ttl_seconds
            entries = self._entries(store, cache, pv, keys, limit)
            view, names_ = pv.view, pv.names
            pairs = list(zip(names_, pv.positions))
            present = dict.fromkeys(names_, "present")
            missing = dict.fromkeys(names_)
            not_found = dict.fromkeys(names_, "not_found")
            expired = dict.fromkeys(names_, "expired")
            stamps = pv.timestamps
            for row, st, tm, k in zip(rows, states, times, keys):
                hit = entries[k]
                if hit is None:
                    row.update(missing)
                    st.append(not_found)
                    tm[view] = None
                    continue
                event_ts, values = hit
                tm[view] = event_ts
                if event_ts < limit:
                    row.update(missing)
                    st.append(expired)
                    continue
                if type(values) is str:  # read while expired under an older TTL
                    values = json.loads(values)
                    entries[k] = (event_ts, values)
                for name, pos in pairs:
                    row[name] = values[pos]
                st.append(present)
                for name in stamps:  # stored as ISO text: back to aware datetimes
                    if row[name] is not None:
                        row[name] = datetime.fromisoformat(row[name])
        if len(views) == 1:
            status = [st[0].copy() for st in states]
        else:
            status = [{k: v for d in st for k, v in d.items()} for st in states]
        return OnlineFeatures(feature_names=names, rows=rows, status=status, event_times=times)
