"""The catalog: created and migrated on first use, concurrent writers, SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from jupyter_mlinfra.core.catalog import Catalog
from jupyter_mlinfra.core.catalog.schema import CatalogInfo, utcnow
from jupyter_mlinfra.core.errors import ConfigurationError


def _exercise(catalog: Catalog) -> None:
    revisions = catalog.schema_revisions()
    assert set(revisions) == catalog._head_revisions()  # every capability's branch applied
    info = catalog.info()
    assert len(info["catalog_id"]) == 32
    with catalog.session() as s:
        s.add(CatalogInfo(key="probe", value="1", updated_at=utcnow()))
    with catalog.read_session() as s:
        row = s.get(CatalogInfo, "probe")
        assert row.value == "1"
        assert row.updated_at.tzinfo is not None
    # A failed transaction leaves nothing behind.
    with pytest.raises(RuntimeError):
        with catalog.session() as s:
            s.add(CatalogInfo(key="half", value="x", updated_at=utcnow()))
            s.flush()
            raise RuntimeError("crash mid-transaction")
    with catalog.read_session() as s:
        assert s.get(CatalogInfo, "half") is None


def test_sqlite_catalog_is_created_in_wal_mode(tmp_path):
    path = tmp_path / "sub" / "catalog.db"
    catalog = Catalog(f"sqlite:///{path}")
    _exercise(catalog)
    assert path.exists()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # A second process-level open finds the schema already at head and keeps the same id.
    again = Catalog(f"sqlite:///{path}")
    assert again.info()["catalog_id"] == catalog.info()["catalog_id"]


@pytest.mark.postgres
def test_postgresql_catalog(pg_catalog_url):
    catalog = Catalog(pg_catalog_url)
    assert catalog.backend == "postgresql"
    _exercise(catalog)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar() >= 1


def _writer(url: str, worker: int, count: int) -> None:
    catalog = Catalog(url)
    for i in range(count):
        with catalog.session() as s:
            # read-then-write in one transaction: the pattern that fails with "database is
            # locked" under SQLite's deferred transactions
            n = len(s.scalars(select(CatalogInfo)).all())
            s.add(CatalogInfo(key=f"w{worker}-{i}", value=str(n), updated_at=utcnow()))


def test_concurrent_processes_write_without_lock_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Catalog(url).read_session() as s:
        keys = [r.key for r in s.scalars(select(CatalogInfo))]
    assert sum(k.startswith("w") for k in keys) == 160


def test_bad_catalog_url_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="catalog URL"):
        Catalog("not a url")
    with pytest.raises(ConfigurationError, match="cannot"):
        Catalog("postgresql+psycopg://nobody@127.0.0.1:1/none").ensure_schema()


def test_core_imports_no_adapter_packages():
    code = (
        "import sys, pkgutil, importlib, jupyter_mlinfra.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'jupyter_mlinfra.core.'):\n"
        "    if '.migrations' in m.name: continue\n"
        "    importlib.import_module(m.name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in "
        "('jupyter_server', 'tornado', 'IPython', 'ipykernel')]\n"
        "print(sorted(bad)); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_current_catalog_opens_without_alembic(tmp_path):
    """The shipped head list matches alembic's; a catalog at those heads is opened without
    importing alembic (every job run's kernel opens one to record provenance)."""
    from jupyter_mlinfra.core.catalog.database import HEAD_REVISIONS

    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog(url)
    assert HEAD_REVISIONS == catalog._head_revisions()
    catalog.schema_revisions()  # creates and migrates it
    catalog.dispose()
    code = (
        "import sys\n"
        "from jupyter_mlinfra.core.catalog import Catalog\n"
        f"c = Catalog({url!r})\n"
        "with c.read_session() as s:\n"
        "    pass\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_claim_turn_gives_one_turn_per_period_across_racing_callers(backend, request, tmp_path):
    import threading

    url = (
        request.getfixturevalue("pg_catalog_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'catalog.db'}"
    )
    catalogs = [Catalog(url) for _ in range(4)]  # as four processes would
    catalogs[0].ensure_schema()
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def race(catalog):
        barrier.wait()
        results.append(catalog.claim_turn("housekeeping", every=3600))

    threads = [threading.Thread(target=race, args=(c,)) for c in catalogs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert catalogs[1].claim_turn("housekeeping", every=3600) is False
    assert catalogs[2].claim_turn("housekeeping", every=0) is True  # the period is over
    for c in catalogs:
        c.dispose()
