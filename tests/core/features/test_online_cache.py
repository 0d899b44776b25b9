"""Online lookups keep what they read while the online store is unchanged: what a user must
never notice is a stale value (a write by this or any other process is seen by the next
lookup), nor a wrong one when the cache is full or a view's TTL changes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd

from jupyter_mlinfra.core.errors import NotFound
from jupyter_mlinfra.core.features.serving import OnlineServing


def in_another_process(code: str) -> None:
    """Run ``code`` in a new interpreter on the same home (as another kernel would)."""
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, env=dict(os.environ))


def now_s() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("s")


def pushed_view(fs, ttl: str | None = None) -> None:
    fs.register_entity("customer", ["customer_id"])
    fs.register_view(
        "live",
        entities="customer",
        schema={"customer_id": "int64", "score": "float64"},
        ttl=ttl,
    )


def scores(fs, ids) -> list:
    return [
        r["score"]
        for r in fs.get_online_features(["live:score"], [{"customer_id": i} for i in ids]).rows
    ]


def test_a_push_from_another_process_is_seen_by_the_next_lookup(fs):
    pushed_view(fs)
    fs.push("live", [{"customer_id": 1, "event_timestamp": now_s(), "score": 1.0}])
    assert scores(fs, [1, 2]) == [1.0, None]  # read once: 2 is not there yet
    assert scores(fs, [1, 2]) == [1.0, None]
    in_another_process(
        """
        import pandas as pd
        from jupyter_mlinfra import features
        now = pd.Timestamp.now(tz="UTC").floor("s") + pd.Timedelta(seconds=1)
        features.push("live", [{"customer_id": 1, "event_timestamp": now, "score": 2.0},
                               {"customer_id": 2, "event_timestamp": now, "score": 3.0}])
        """
    )
    assert scores(fs, [1, 2]) == [2.0, 3.0]
    online = fs.get_online_features(["live:score"], [{"customer_id": 2}])
    assert online.status == [{"score": "present"}]


def test_a_push_in_this_process_is_seen_by_the_next_lookup(fs, workspace):
    pushed_view(fs)
    fs.push("live", [{"customer_id": 1, "event_timestamp": now_s(), "score": 1.0}])
    assert scores(fs, [1, 3]) == [1.0, None]
    later = now_s() + pd.Timedelta(seconds=1)
    fs.push("live", [{"customer_id": 1, "event_timestamp": later, "score": 5.0}])
    assert scores(fs, [1, 3]) == [5.0, None]
    # ... and through another service of this process (its own online store connection)
    other = workspace.service("features")
    other.push("live", [{"customer_id": 3, "event_timestamp": later, "score": 7.0}])
    assert scores(fs, [1, 3]) == [5.0, 7.0]


def test_deleting_a_view_in_another_process_empties_lookups(fs):
    pushed_view(fs)
    fs.push("live", [{"customer_id": 1, "event_timestamp": now_s(), "score": 1.0}])
    assert scores(fs, [1]) == [1.0]
    in_another_process(
        """
        from jupyter_mlinfra import features
        features.delete("live")
        """
    )
    try:  # for a few seconds this process may still resolve the view it knew
        after = scores(fs, [1])
    except NotFound:
        after = [None]
    assert after == [None]


def test_values_expired_then_kept_by_a_longer_ttl_from_another_process(fs):
    """A row read while older than the TTL comes back with its value once the TTL (changed
    by another process, so without any write to the online store) covers it."""
    pushed_view(fs, ttl="1d")
    old = now_s() - pd.Timedelta(days=2)
    fs.push("live", [{"customer_id": 1, "event_timestamp": old, "score": 4.5}])
    online = fs.get_online_features(["live:score"], [{"customer_id": 1}])
    assert (online.rows[0]["score"], online.status[0]["score"]) == (None, "expired")
    in_another_process(
        """
        from jupyter_mlinfra import features
        features.update("live", ttl="7d")
        """
    )
    deadline = time.monotonic() + 60  # this process re-reads the definition within seconds
    while True:
        online = fs.get_online_features(["live:score"], [{"customer_id": 1}])
        if online.status[0]["score"] != "expired" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (online.rows[0]["score"], online.status[0]["score"]) == (4.5, "present")


def test_lookups_stay_right_when_the_cache_is_full(fs, monkeypatch):
    monkeypatch.setattr(OnlineServing, "CACHE_ENTRIES", 3)
    pushed_view(fs)
    fs.push(
        "live",
        [{"customer_id": i, "event_timestamp": now_s(), "score": float(i)} for i in range(8)],
    )
    ids = [0, 5, 9, 1, 7, 5, 2, 3, 4, 6, 0]
    expected = [float(i) if i < 8 else None for i in ids]
    for _ in range(3):
        assert scores(fs, ids) == expected
        for i in ids:
            assert scores(fs, [i]) == [float(i) if i < 8 else None]


def test_lookups_read_the_sqlite_store_through_a_memory_map(fs, workspace):
    """A lookup of 100 random entities among 1,000,000 costs a third less when SQLite's
    pages are mapped rather than read() one by one; writes from another process are still
    seen (the tests above)."""
    pushed_view(fs)
    rows = [{"customer_id": i, "event_timestamp": now_s(), "score": 1.0} for i in range(100)]
    fs.push("live", rows)
    store_file = os.path.realpath(workspace.config.home / "online_features.db")
    other = sqlite3.connect(store_file)  # the rows move from the WAL into the file (as
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # SQLite's checkpoints do)
    other.close()
    assert scores(fs, [1, 99, 100]) == [1.0, 1.0, None]
    with open("/proc/self/maps") as maps:
        assert any(line.rstrip().endswith(store_file) for line in maps)
