"""Uploaded DataFrame sources of feature views do not pile up on the central service: when
a view is deleted, the source data no version of another view names is deleted with it (a
source still named by another view stays readable)."""

from __future__ import annotations

import pandas as pd

TRANSFORM = """\
def passthrough(df):
    return df
"""


def _transform():
    namespace: dict = {"__name__": "__main__"}
    exec(TRANSFORM, namespace)
    return namespace["passthrough"]


def _frame(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "store_id": list(range(len(values))),
            "event_timestamp": pd.to_datetime(["2024-01-01"] * len(values), utc=True),
            "gross": values,
        }
    )


def _define(fs, name: str, source: pd.DataFrame) -> str:
    defined = fs.register_view(
        name, entities="store", source=source, transform=_transform(), transform_source=TRANSFORM
    )
    assert defined["source"]["kind"] == "dataframe"
    return defined["source"]["ref"]


def test_deleting_a_view_deletes_the_sources_no_other_view_names(service, remote):
    alice = remote(service, "alice").service("features")
    alice.register_entity("store", ["store_id"])
    shared = _define(alice, "shared_a", _frame([1.0, 2.0]))
    assert _define(alice, "shared_b", _frame([1.0, 2.0])) == shared  # the same bytes
    own_v1 = _define(alice, "own", _frame([3.0]))
    own_v2 = _define(alice, "own", _frame([3.0, 4.0]))  # a second version, another source
    assert len({shared, own_v1, own_v2}) == 3

    def stored(ref: str) -> bool:
        r = service.get("mlinfra/api/features/sources", user="alice", params={"ref": ref})
        assert r.status_code in (200, 404), r.text
        return r.status_code == 200

    assert all(stored(ref) for ref in (shared, own_v1, own_v2))
    alice.delete_view("own")
    assert not stored(own_v1) and not stored(own_v2)
    assert stored(shared)
    alice.delete_view("shared_a")
    assert stored(shared)  # shared_b still reads it
    assert len(alice._table("features/views/shared_b/source", {}, "shared_b")) == 2
    alice.delete_view("shared_b")
    assert not stored(shared)
