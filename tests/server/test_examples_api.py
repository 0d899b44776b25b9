"""The launcher tour's example notebooks: GET /mlinfra/api/examples lists them with where a
copy goes, POST /mlinfra/api/examples/copy copies them into the server root and never
overwrites a file the user already has there."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

EXAMPLES = Path(__file__).resolve().parents[2] / "example_notebooks"


async def test_examples_are_listed_and_copied_without_overwriting(jp_fetch, jp_root_dir):
    names = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))
    assert "provenance_demo.ipynb" in names

    listed = json.loads((await jp_fetch("mlinfra", "api", "examples")).body)
    assert [i["name"] for i in listed["items"]] == names
    assert listed["items"][0]["path"] == f"example_notebooks/{names[0]}"
    assert not any(i["in_root"] for i in listed["items"])

    # the user already has their own jobs_train.ipynb there: it is kept as it is
    mine = jp_root_dir / "example_notebooks" / "jobs_train.ipynb"
    mine.parent.mkdir()
    mine.write_text("my own edits")

    answer = await jp_fetch("mlinfra", "api", "examples", "copy", method="POST", body="{}")
    copied = json.loads(answer.body)
    assert copied["kept"] == ["example_notebooks/jobs_train.ipynb"]
    assert sorted(copied["copied"]) == [
        f"example_notebooks/{n}" for n in names if n != "jobs_train.ipynb"
    ]
    assert mine.read_text() == "my own edits"
    demo = nbformat.read(jp_root_dir / "example_notebooks" / "provenance_demo.ipynb", as_version=4)
    assert demo == nbformat.read(EXAMPLES / "provenance_demo.ipynb", as_version=4)

    # again: nothing is copied over the copies
    (jp_root_dir / "example_notebooks" / "models_demo.ipynb").write_text("changed by the user")
    again = json.loads(
        (await jp_fetch("mlinfra", "api", "examples", "copy", method="POST", body="{}")).body
    )
    assert again["copied"] == []
    assert len(again["kept"]) == len(names)
    assert (jp_root_dir / "example_notebooks" / "models_demo.ipynb").read_text() == (
        "changed by the user"
    )
    listed = json.loads((await jp_fetch("mlinfra", "api", "examples")).body)
    assert all(i["in_root"] for i in listed["items"])
