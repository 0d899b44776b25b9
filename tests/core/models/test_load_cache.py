"""``models.load`` in a loop: a version loaded before comes from memory, and a reference
always names what the catalog says it names now (aliases moved, new versions, from this
process or another)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import event

from jupyter_mlinfra.core.errors import NotFound


def _catalog_statements(ws) -> list[str]:
    sent: list[str] = []
    event.listen(ws.catalog.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_loading_a_loaded_version_again_reads_nothing(ws, fitted, iris):
    from model_data import featurize

    store = ws.service("models")
    store.register("iris", fitted, featurize=featurize, alias="prod", figures=[])
    store.load("iris@prod")  # the first load keeps nothing (the caller owns its model)
    store.load("iris:1")  # loaded again: kept ("iris:1" resolved once)
    sent = _catalog_statements(ws)
    for _ in range(20):
        again = store.load("iris@prod")
        by_version = store.load("iris:1")
    assert sent == []  # no catalog read, and so no artifact read
    assert (again.predict(iris) == fitted.predict(featurize(iris))).all()
    assert (by_version.predict(iris) == fitted.predict(featurize(iris))).all()


def test_a_model_changed_in_place_does_not_change_the_next_load(ws, fitted, iris):
    from model_data import featurize

    store = ws.service("models")
    store.register("iris", fitted, featurize=featurize, alias="prod", figures=[])
    expected = fitted.predict(featurize(iris))
    for _ in range(4):  # the first load, the one that is kept, and copies of it
        mine = store.load("iris@prod")
        assert (mine.predict(iris) == expected).all()
        # the user changes what they loaded: its weights in place, an attribute
        mine.model.coef_[:] = 0.0
        mine.model.intercept_[:] = 0.0
        mine.model.classes_ = mine.model.classes_[::-1]
        assert not (mine.predict(iris) == expected).all()
    assert (store.load("iris:1").predict(iris) == expected).all()
    assert (store.load("iris@prod").predict(iris) == expected).all()


def test_a_reference_follows_the_catalog(ws, fitted, iris):
    store = ws.service("models")
    store.register("iris", fitted, alias="prod", figures=[])
    assert store.load("iris@prod").ref == "iris:1"
    assert store.load("iris").ref == "iris:1"
    store.register("iris", fitted, figures=[])
    assert store.load("iris").ref == "iris:2"  # the new latest version
    assert store.load("iris@prod").ref == "iris:1"
    store.set_alias("iris", "prod", 2)
    moved = store.load("iris@prod")
    assert moved.ref == "iris:2" and "prod" in moved.version.aliases
    assert "prod" not in store.load("iris:1").version.aliases  # as the catalog says now
    store.delete_alias("iris", "prod")
    with pytest.raises(NotFound):
        store.load("iris@prod")


def test_an_alias_moved_by_another_process_is_seen_at_once(ws, fitted):
    store = ws.service("models")
    store.register("iris", fitted, alias="prod", figures=[])
    store.register("iris", fitted, figures=[])
    assert store.load("iris@prod").ref == "iris:1"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from jupyter_mlinfra import models; models.set_alias('iris', 'prod', 2)",
        ],
        check=True,
    )
    assert store.load("iris@prod").ref == "iris:2"
