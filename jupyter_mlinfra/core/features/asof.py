"""Point-in-time lookups over a view's offline rows, sorted once, searched with numpy.

A training frame asks, for every entity row and view: the latest feature row of that entity
whose event time is <= the row's timestamp (and >= the timestamp minus the view's TTL, both
inclusive), ties on event time broken by the created time. :class:`SortedRows` answers that
for a whole entity frame with two vectorised binary searches:

- the feature rows are sorted once by (entity code, event time, created time); entity codes
  come from ``pandas.factorize`` of the join keys, and (entity, time) becomes one int64
  ``code * span + microseconds since the first event`` (or, when that could overflow, the
  time's rank among the distinct event times);
- an entity row's own composite is built the same way from its key and timestamp;
  ``searchsorted(..., side="right") - 1`` in the sorted composite is then the last feature
  row at or before it, which belongs to the same entity or to none.

Rows whose key or event time is null never match (as in SQL). :class:`SortedRowsCache`
keeps built copies keyed by the exact (immutable, content-addressed) file set, least
recently used out first, so repeated frames over unchanged data skip the parquet decoding
and the sort.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from .definitions import CREATED_TS, EVENT_TS


class SortedRows:
    """One view version's offline rows, sorted for point-in-time lookups."""

    def __init__(self, frame: Any, keys: Sequence[str], features: Sequence[str]) -> None:
        import numpy as np
        import pandas as pd

        self.keys = list(keys)
        if len(self.keys) == 1:
            codes, uniques = pd.factorize(frame[self.keys[0]], use_na_sentinel=True)
            self._uniques = pd.Index(uniques)
        else:
            index = pd.MultiIndex.from_arrays([frame[k] for k in self.keys])
            codes, uniques = index.factorize()
            self._uniques = (
                uniques
                if isinstance(uniques, pd.MultiIndex)
                else pd.MultiIndex.from_tuples(list(uniques), names=self.keys)
            )
            codes = np.where(_any_null([frame[k] for k in self.keys]), -1, codes)
        event = _ns(frame[EVENT_TS])
        created = (
            _ns(frame[CREATED_TS])
            if CREATED_TS in frame.columns
            else np.zeros(len(frame), dtype="int64")
        )
        keep = (codes >= 0) & (event != _NAT)
        if not keep.all():
            codes, event, created = codes[keep], event[keep], created[keep]
            frame = frame.loc[keep]
        codes = codes.astype("int64")
        self._codes_n = len(self._uniques)
        micros = event // 1000
        self._tmin = int(micros.min()) if len(micros) else 0
        span = (int(micros.max()) - self._tmin + 1) if len(micros) else 1
        if (self._codes_n + 1) * span < 2**62:
            # (entity, time) as one int64: code * span + microseconds since the first event.
            self._span, self.times = span, None
            composite = codes * span + (micros - self._tmin)
        else:  # too wide a range for that: times by their rank among the distinct times
            self.times = _sorted_distinct(event)
            self._span = max(len(self.times), 1)
            composite = codes * self._span + np.searchsorted(self.times, event)
        order = np.argsort(composite)  # introsort; equal keys are ordered below
        ordered = composite[order]
        if len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any():
            order = np.lexsort((created, composite))  # ties on event time: by created time
            ordered = composite[order]
        self._composite = ordered
        self._codes = codes[order]
        self._event = event[order]
        self.columns = {name: _taken(frame[name], order) for name in features}
        self.rows = len(order)

    @property
    def nbytes(self) -> int:
        arrays = [
            self._composite,
            self._codes,
            self._event,
            *([] if self.times is None else [self.times]),
            *self.columns.values(),
        ]
        return int(sum(getattr(a, "nbytes", 0) for a in arrays))

    def positions(
        self, entity_keys: Sequence[Any], entity_ts: Any, ttl_seconds: float | None
    ) -> Any:
        """For each entity row, the position of its point-in-time feature row, or -1."""
        import numpy as np
        import pandas as pd

        if self.rows == 0:
            return np.full(len(entity_ts), -1, dtype="int64")
        if len(self.keys) == 1:
            codes = self._uniques.get_indexer(pd.Index(entity_keys[0]))
        else:
            codes = self._uniques.get_indexer(pd.MultiIndex.from_arrays(list(entity_keys)))
            codes = np.where(_any_null(entity_keys), -1, codes)
        ts = _ns(entity_ts)
        if self.times is None:
            offset = np.minimum(ts // 1000 - self._tmin, self._span - 1)
        else:
            offset = np.searchsorted(self.times, ts, side="right") - 1
        query = codes.astype("int64") * self._span + offset
        # Needles in order: numpy's search then narrows each step from the last answer and
        # walks the sorted rows mostly forward (several times faster than random needles).
        needle_order = np.argsort(query)
        pos = np.empty(len(query), dtype="int64")
        pos[needle_order] = np.searchsorted(self._composite, query[needle_order], side="right") - 1
        found = (codes >= 0) & (offset >= 0) & (ts != _NAT) & (pos >= 0)
        safe = np.where(found, pos, 0)
        found &= self._codes[safe] == codes
        if ttl_seconds is not None:
            floor = ts - np.int64(round(ttl_seconds * 1e9))
            found &= self._event[safe] >= floor
        return np.where(found, pos, -1)

    def take(self, feature: str, positions: Any) -> Any:
        """The feature's values at ``positions`` (null where the position is -1)."""
        import numpy as np
        import pandas as pd

        values = self.columns[feature]
        missing = positions < 0
        taken = (
            values.take(np.where(missing, 0, positions))
            if len(values)
            else pd.array([None] * len(positions), dtype=values.dtype if len(values) else object)
        )
        series = pd.Series(taken)
        if missing.any():
            series = series.mask(missing)
        return series


class SortedRowsCache:
    """Built :class:`SortedRows` by file-set key; at most ``max_rows`` rows in all (least
    recently used first out). Thread-safe; a build happens once per key at a time."""

    def __init__(self, max_rows: int = 20_000_000) -> None:
        self.max_rows = max_rows
        self._items: OrderedDict[tuple, SortedRows] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}

    def get(self, key: tuple, build) -> SortedRows:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
            gate = self._building.setdefault(key, threading.Lock())
        with gate:  # a second caller for the same files waits for the first build
            with self._lock:
                hit = self._items.get(key)
                if hit is not None:
                    return hit
            rows: SortedRows = build()
            with self._lock:
                self._building.pop(key, None)
                if rows.rows <= self.max_rows:
                    self._items[key] = rows
                    while sum(r.rows for r in self._items.values()) > self.max_rows:
                        self._items.popitem(last=False)
            return rows


_NAT = -(2**63)


def _ns(values: Any):
    """Timestamps as int64 nanoseconds since the epoch, UTC (naive taken as UTC); NaT stays
    the minimum int64."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, utc=True)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.to_numpy(dtype="datetime64[ns]").view("int64").astype(np.int64, copy=False)


def _sorted_distinct(values):
    import numpy as np

    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _any_null(columns: Sequence[Any]):
    import numpy as np
    import pandas as pd

    mask = np.zeros(len(columns[0]), dtype=bool)
    for column in columns:
        mask |= np.asarray(pd.isna(column), dtype=bool)
    return mask


def _taken(column: Any, order: Any) -> Any:
    """A column reordered, as a pandas array (keeps nullable and string dtypes)."""
    array = column.array if hasattr(column, "array") else column
    return array.take(order)
