"""Online stores come from a registry that another package extends by entry point."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest
from feature_data import spend_source, workspace_for

from jupyter_mlinfra.core.errors import ConfigurationError
from jupyter_mlinfra.core.features.online import ENTRY_POINT_GROUP, OnlineStore, online_stores

STORE_MODULE = '''
from jupyter_mlinfra.core.features.online import OnlineStore

ROWS = {}


class MemoryOnlineStore(OnlineStore):
    """Latest rows in a dict of this process: what a plug-in store looks like."""

    backend = "memory"

    def __init__(self, url):
        self.url = url

    def read(self, view, version, keys):
        return {k: ROWS[(view, version, k)][:3] for k in keys if (view, version, k) in ROWS}

    def write(self, view, version, rows):
        n = 0
        for key, event, created, payload in rows:
            old = ROWS.get((view, version, key))
            if old is None or (event, created) >= (old[0], old[1]):
                ROWS[(view, version, key)] = (event, created, payload)
            n += 1
        return n

    def delete_view(self, view):
        for k in [k for k in ROWS if k[0] == view]:
            del ROWS[k]

    def count(self, view, version):
        return sum(1 for k in ROWS if k[:2] == (view, version))

    def describe(self):
        return {"backend": self.backend, "url": self.url}

    def close(self):
        pass
'''


@pytest.fixture
def memory_store_package(tmp_path, monkeypatch):
    """A package installed on sys.path that declares the ``memory`` online store."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "mlinfra_memory_store.py").write_text(STORE_MODULE)
    info = root / "mlinfra_memory_store-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mlinfra-memory-store\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
        [{ENTRY_POINT_GROUP}]
        memory = mlinfra_memory_store:MemoryOnlineStore
        """)
    )
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield
    online_stores._stores.pop("memory", None)
    sys.modules.pop("mlinfra_memory_store", None)


def test_an_online_store_from_an_entry_point_serves_lookups(memory_store_package, mlinfra_env):
    ws = workspace_for("alice", online_store_url="memory://features")
    fs = ws.service("features")
    assert fs.status()["online_store"] == "memory"
    fs.register_entity("customer", ["customer_id"])
    fs.register_view("spend", entities="customer", source=spend_source())
    out = fs.materialize("spend", end="2024-02-01")
    assert out["online_rows"] == 3
    online = fs.get_online_features(["spend:amount"], [{"customer_id": 2}, {"customer_id": 9}])
    assert [r["amount"] for r in online.rows] == [7.0, None]
    assert [s["amount"] for s in online.status] == ["present", "not_found"]
    assert fs.describe("spend")["freshness"]["online_entities"] == 3
    from mlinfra_memory_store import ROWS

    assert {k[2] for k in ROWS} == {"1", "2", "3"}
    fs.close()
    ws.close()


def test_an_unknown_online_store_scheme_is_a_configuration_error(mlinfra_env):
    ws = workspace_for("alice", online_store_url="nosuchstore://somewhere")
    with pytest.raises(ConfigurationError, match="unsupported online store URL"):
        ws.service("features").status()
    ws.close()


def test_a_store_that_leaves_a_method_out_is_refused_when_opened(tmp_path):
    class HalfStore(OnlineStore):  # read/write only: no count, delete_view, describe, close
        def __init__(self, url):
            self.url = url

        def read(self, view, version, keys):
            return {}

        def write(self, view, version, rows):
            return 0

    online_stores.register("half", HalfStore)
    try:
        with pytest.raises(ConfigurationError, match="does not implement close, count"):
            online_stores.open("half://x", tmp_path)
    finally:
        online_stores._stores.pop("half", None)
