"""The cache of prepared notebooks (a submitted notebook's snapshot and parameters cell, keyed
by its bytes): bounded, and a notebook whose entry went is read again."""

from __future__ import annotations

from pathlib import Path


def test_the_prepared_notebooks_cache_keeps_its_newest_entries(jobs_ws, jobs, monkeypatch):
    """Each notebook version submitted adds an entry to the cache of prepared notebooks
    (snapshot and parameters cell); it keeps the newest PREPARED_CACHE_ENTRIES, and a
    notebook whose entry went is read again."""
    from jupyter_mlinfra.core.jobs import submission

    from .notebooks import write

    monkeypatch.setattr(submission, "PREPARED_CACHE_ENTRIES", 2)
    root = jobs_ws.config.settings.root_dir
    for i in range(3):
        write(Path(root) / f"nb{i}.ipynb", f"x = {i}", "y = x")
        assert jobs.submit(f"nb{i}.ipynb", parameters={"x": 5})["parameters"] == {"x": 5}
    folder = jobs_ws.config.home / "cache" / "prepared-notebooks"
    assert len(list(folder.glob("*.json"))) == 2
    again = jobs.submit("nb0.ipynb", parameters={"x": 6})
    assert again["parameters"] == {"x": 6}
    assert len(list(folder.glob("*.json"))) == 2
