"""The server side of the workbench (issue 14): parameter types checked at the server, run
output downloads as .ipynb or HTML, the executed-notebook hub (GET /notebooks) and the run
details its pages show (phase, attempts, cancelled). A real server with the scheduler inside,
real kernels running the notebooks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.core.jobs.notebooks import make_root, write
from tests.server.conftest import NamedUsers


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlinfra": True},
            "identity_provider_class": NamedUsers,
        }
    }


@pytest.fixture
def nb_root(jp_root_dir, monkeypatch):
    monkeypatch.setenv("MLINFRA_JOBS_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("MLINFRA_JOBS_WORKERS", "1")
    monkeypatch.setenv("MLINFRA_JOBS_RECORD_PROVENANCE", "false")
    root = make_root(jp_root_dir)
    write(
        root / "typed.ipynb",
        "epochs = 10\nlr = 0.1\nflag = True\nname = 'a'\nlayers = [1, 2]\nanything = None",
        "print('epochs', epochs, 'lr', lr)",
    )
    return root


async def _post(fetch, *path, body):
    return await fetch("mlinfra", "api", *path, method="POST", body=json.dumps(body))


async def _get(fetch, *path, **params):
    return json.loads((await fetch("mlinfra", "api", *path, params=params or None)).body)


async def _error(coro) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as err:
        await coro
    return err.value.code, json.loads(err.value.response.body)["error"]


async def _until(fetch, run_id: str, done) -> dict:
    """The run once ``done(run)`` holds (polled; the test's timeout bounds it)."""
    while True:
        run = await _get(fetch, "runs", run_id)
        if done(run):
            return run
        await asyncio.sleep(0.1)


def _finished(run: dict) -> bool:
    return run["state"] not in ("queued", "waiting", "running")


# -- 1. parameter types -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "parameters, named, expected",
    [
        ({"epochs": 2500.7}, "epochs", "int"),
        ({"epochs": "abc"}, "epochs", "int"),
        ({"epochs": True}, "epochs", "int"),
        ({"lr": ""}, "lr", "float"),
        ({"lr": None}, "lr", "float"),
        ({"lr": "fast"}, "lr", "float"),
        ({"flag": "yes"}, "flag", "bool"),
        ({"name": 3}, "name", "str"),
        ({"layers": {"a": 1}}, "layers", "list"),
    ],
)
async def test_a_value_of_the_wrong_type_is_a_400_naming_the_parameter(
    jp_fetch, nb_root, parameters, named, expected
):
    for path, body in (
        ("jobs", {"name": "train", "notebook": "typed.ipynb"}),
        ("runs", {"notebook": "typed.ipynb"}),
    ):
        code, err = await _error(_post(jp_fetch, path, body={**body, "parameters": parameters}))
        assert code == 400, err
        assert f"parameter {named} of typed.ipynb expects {expected}" in err["message"]
        assert err["details"] == {"parameter": named, "expected": expected}
    if parameters.get("lr", 0) in ("", None):
        assert "got an empty value" in err["message"]
    # nothing was created
    assert (await _get(jp_fetch, "jobs"))["total"] == 0
    assert (await _get(jp_fetch, "runs"))["total"] == 0


async def test_right_types_untyped_parameters_and_unknown_names(jp_fetch, nb_root):
    r = await _post(
        jp_fetch,
        "jobs",
        body={
            "name": "train",
            "notebook": "typed.ipynb",
            "parameters": {
                "epochs": 5,
                "lr": 1,
                "flag": False,
                "name": "",
                "layers": [3],
                "anything": {"free": ["form"]},
            },
        },
    )
    assert r.code == 201
    assert json.loads(r.body)["parameters"]["lr"] == 1
    # unknown names: refused, as before
    code, err = await _error(
        _post(jp_fetch, "jobs", "train", "run", body={"parameters": {"epoch": 3}})
    )
    assert code == 400 and "unknown parameter epoch" in err["message"]
    # running the job with a bad override is refused the same way
    code, err = await _error(
        _post(jp_fetch, "jobs", "train", "run", body={"parameters": {"epochs": 2.5}})
    )
    assert code == 400 and err["details"] == {"parameter": "epochs", "expected": "int"}


# -- 2 and 3. output downloads, the notebook hub --------------------------------------------------
async def test_run_output_as_ipynb_attachment_or_html(jp_fetch, nb_root):
    run = json.loads(
        (await _post(jp_fetch, "runs", body={"notebook": "ok.ipynb", "parameters": {"x": 4}})).body
    )
    run = await _until(jp_fetch, run["id"], _finished)
    assert run["state"] == "succeeded", run["error"]
    default = await jp_fetch("mlinfra", "api", "runs", run["id"], "output")
    assert default.headers["Content-Type"] == "application/x-ipynb+json"
    assert default.headers["Content-Disposition"].startswith(
        f'attachment; filename="ok-{run["id"][:12]}.ipynb"'
    )
    assert json.loads(default.body)["nbformat"] == 4
    page = await jp_fetch("mlinfra", "api", "runs", run["id"], "output", params={"format": "html"})
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in page.headers
    assert page.headers["Content-Security-Policy"].startswith("sandbox")
    text = page.body.decode()
    assert text.startswith("<!DOCTYPE html>") and "y is 8" in text
    saved = await jp_fetch(
        "mlinfra", "api", "runs", run["id"], "output", params={"format": "html", "download": "true"}
    )
    assert f'filename="ok-{run["id"][:12]}.html"' in saved.headers["Content-Disposition"]
    code, err = await _error(
        jp_fetch("mlinfra", "api", "runs", run["id"], "output", params={"format": "pdf"})
    )
    assert code == 400 and "format" in err["message"]


async def test_html_rendering_runs_no_script_of_the_outputs(jp_fetch, nb_root):
    write(
        nb_root / "shows.ipynb",
        "x = 1",
        "from IPython.display import HTML, display\n"
        "display(HTML('<b>bold</b><script>window.stolen = 1</script>'))",
    )
    run = json.loads((await _post(jp_fetch, "runs", body={"notebook": "shows.ipynb"})).body)
    run = await _until(jp_fetch, run["id"], _finished)
    assert run["state"] == "succeeded", run["error"]
    html = (
        await jp_fetch("mlinfra", "api", "notebooks", run["id"], params={"format": "html"})
    ).body.decode()
    assert "<b>bold</b>" in html and "<script>window.stolen" not in html


async def test_notebook_hub_lists_searches_and_renders_executed_notebooks(
    jp_fetch, as_user, jp_serverapp, nb_root
):
    alice, bob = as_user("alice", "fraud"), as_user("bob", "risk")
    await _post(
        alice, "jobs", body={"name": "nightly", "notebook": "ok.ipynb", "parameters": {"x": 7}}
    )
    ids = {}
    for key, (path, body) in {
        "four": (
            "runs",
            {"notebook": "ok.ipynb", "parameters": {"x": 4, "label": "b"}, "tags": ["api"]},
        ),
        "fail": ("runs", {"notebook": "fail.ipynb", "parameters": {"x": 3}}),
        "job": ("jobs/nightly/run", {}),
        "private": (
            "runs",
            {"notebook": "ok.ipynb", "parameters": {"x": 5}, "visibility": "private"},
        ),
    }.items():
        ids[key] = json.loads((await _post(alice, *path.split("/"), body=body)).body)["id"]
    for run_id in ids.values():
        await _until(alice, run_id, _finished)

    page = await _get(alice, "notebooks")
    assert set(page) == {"items", "total", "total_exact", "limit", "offset", "next_cursor"}
    assert page["total"] == 4 and page["next_cursor"] is None
    created = [i["created_at"] for i in page["items"]]
    assert created == sorted(created, reverse=True)  # newest first
    item = next(i for i in page["items"] if i["id"] == ids["job"])
    assert (item["kind"], item["job_name"], item["name"], item["parameters"]) == (
        "job_run",
        "nightly",
        "ok.ipynb",
        {"x": 7},
    )
    assert item["links"]["html"] == f"/mlinfra/api/notebooks/{ids['job']}?format=html"

    async def found(**params):
        return [i["id"] for i in (await _get(alice, "notebooks", **params))["items"]]

    # the text index is written when a run ends: the search never opens the notebooks
    # (here they are gone from the artifact store, and still found)
    artifacts = jp_serverapp.web_app.settings["mlinfra_workspace"].artifacts
    for run_id in ids.values():
        artifacts.delete(f"runs/{run_id}/output.ipynb")
    assert await found(q="y is 8") == [ids["four"]]  # text of an output
    assert await found(q="bad value 3") == [ids["fail"]]  # text of an error
    assert await found(q="log_metric('half'") != []  # text of a cell
    assert await found(notebook="fail") == [ids["fail"]]
    assert await found(job="nightly") == [ids["job"]]
    assert await found(tag="api") == [ids["four"]]
    assert await found(parameter="x=7") == [ids["job"]]
    assert await found(parameter="x=4", q="y is") == [ids["four"]]
    both = json.loads(
        (
            await alice(
                "mlinfra",
                "api",
                "notebooks",
                params=[("parameter", "x=4"), ("parameter", "label=b")],
            )
        ).body
    )["items"]
    assert [i["id"] for i in both] == [ids["four"]]
    assert await found(parameter="label=a") == []
    assert await found(q="no such text anywhere") == []
    code, err = await _error(alice("mlinfra", "api", "notebooks", params={"parameter": "x"}))
    assert code == 400 and "parameter" in err["message"]
    first = await _get(alice, "notebooks", limit=3)
    rest = await _get(alice, "notebooks", limit=3, cursor=first["next_cursor"])
    assert len(first["items"]) == 3 and len(rest["items"]) == 1
    assert {i["id"] for i in first["items"] + rest["items"]} == set(ids.values())

    # visible as runs are: bob (another team) sees neither alice's private run nor, for a
    # team run, anything outside his team
    assert ids["private"] not in [i["id"] for i in (await _get(bob, "notebooks"))["items"]]
    code, _ = await _error(bob("mlinfra", "api", "notebooks", ids["private"]))
    assert code == 404
    code, _ = await _error(alice("mlinfra", "api", "notebooks", "0" * 32))
    assert code == 404


async def test_an_executed_notebook_metadata_and_renderings(jp_fetch, nb_root):
    run = json.loads(
        (
            await _post(jp_fetch, "runs", body={"notebook": "fail.ipynb", "parameters": {"x": 9}})
        ).body
    )
    run = await _until(jp_fetch, run["id"], _finished)
    meta = await _get(jp_fetch, "notebooks", run["id"])
    # its 4 code cells and the one papermill injected (with its parameters)
    assert (meta["state"], meta["code_cells"]) == ("failed", 5) and meta["cells"] >= 5
    assert "ValueError: bad value 9" in meta["error"] and meta["size_bytes"] > 0
    nb = await jp_fetch("mlinfra", "api", "notebooks", run["id"], params={"format": "ipynb"})
    assert nb.headers["Content-Disposition"].startswith("attachment;")
    assert "bad value 9" in nb.body.decode()
    html = await jp_fetch("mlinfra", "api", "notebooks", run["id"], params={"format": "html"})
    assert "before the failure" in html.body.decode()


# -- 4. what a run page shows ---------------------------------------------------------------------
@pytest.fixture
def gated_kernel(tmp_path, monkeypatch):
    """A kernel that starts only once its gate file exists: the run waits for its kernel
    for as long as the test wants to look at it."""
    gate = tmp_path / "kernel-gate"
    spec_dir = tmp_path / "jupyter-data" / "kernels" / "gated"
    spec_dir.mkdir(parents=True)
    script = (
        f"while [ ! -e '{gate}' ]; do sleep 0.05; done; "
        f"exec '{sys.executable}' -m ipykernel_launcher -f \"$0\""
    )
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/bin/sh", "-c", script, "{connection_file}"],
                "display_name": "gated",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv(
        "JUPYTER_PATH",
        os.pathsep.join([str(tmp_path / "jupyter-data"), os.environ.get("JUPYTER_PATH", "")]).strip(
            os.pathsep
        ),
    )
    return gate


async def test_a_run_waiting_for_its_kernel_says_starting_kernel(
    jp_fetch, nb_root, gated_kernel: Path
):
    run = json.loads(
        (await _post(jp_fetch, "runs", body={"notebook": "ok.ipynb", "kernel_name": "gated"})).body
    )
    assert run["phase"] == "queued"
    run = await _until(jp_fetch, run["id"], lambda r: r["state"] != "queued")
    assert (run["state"], run["phase"]) == ("running", "starting kernel")
    listed = (await _get(jp_fetch, "runs"))["items"][0]
    assert listed["phase"] == "starting kernel"
    gated_kernel.touch()
    run = await _until(jp_fetch, run["id"], _finished)
    assert (run["state"], run["phase"]) == ("succeeded", "succeeded"), run["error"]


async def test_attempts_of_a_retried_run_and_a_cancelled_run(jp_fetch, nb_root):
    run = json.loads(
        (
            await _post(
                jp_fetch, "runs", body={"notebook": "flaky.ipynb", "retries": 1, "retry_backoff": 0}
            )
        ).body
    )
    assert (run["attempt"], run["max_attempts"]) == (1, 2)
    run = await _until(jp_fetch, run["id"], _finished)
    assert (run["state"], run["attempt"], run["max_attempts"]) == ("succeeded", 2, 2)
    # run again: a new run with its own attempts (1 of 2), not "attempt 3 of 2"
    again = json.loads((await _post(jp_fetch, "runs", run["id"], "retry", body={})).body)
    assert (again["attempt"], again["max_attempts"], again["retry_of"]) == (1, 2, run["id"])
    await _until(jp_fetch, again["id"], _finished)

    slow = json.loads((await _post(jp_fetch, "runs", body={"notebook": "slow.ipynb"})).body)
    await _until(jp_fetch, slow["id"], lambda r: r["phase"] == "executing")
    await _post(jp_fetch, "runs", slow["id"], "cancel", body={})
    slow = await _until(jp_fetch, slow["id"], _finished)
    assert (slow["state"], slow["phase"]) == ("cancelled", "cancelled")
