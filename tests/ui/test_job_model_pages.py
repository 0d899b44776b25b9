"""The job page, the model page and the launcher tour in a real JupyterLab (headless Chromium, 1440x900): a job's
dependencies drawn as a graph whose nodes link to their jobs and show their last run's state,
the job edited in place with the Jobs form's as-you-type checks (PATCH /jobs/{ref}), pause,
resume and delete behind a confirmation; a model's description and tags edited in place, and
another user's model refusing with the server's message; the tour copying the example
notebooks into the user's folder (never over the user's own file) and opening them. Light
and dark screenshots: test-artifacts/ui/job-page-*.png, model-page-*.png, tour-*.png."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import nbformat
import pytest
from jupyterlab_page import (
    assert_readable,
    main_page,
    mlinfra_errors,
    open_lab,
    open_mlinfra_panel,
    open_tab,
    screenshot,
)
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser


def _set_theme(lab_server, theme: str) -> None:
    status, body = lab_server.request(
        "PUT",
        "lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": theme})},
    )
    assert status == 204, body


def _wait_run(lab_server, run_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = lab_server.api(f"runs/{run_id}")
        if run["state"] in ("succeeded", "failed", "upstream_failed", "cancelled", "timed_out"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['state']}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def pipeline(lab_server):
    """Three jobs, jm_prepare -> jm_train -> jm_report, run once as a pipeline (a run of
    jm_prepare starts the others after it): jm_report's notebook fails."""
    nb = new_notebook(
        cells=[
            new_code_cell("rows = 100\nrate = 0.5", metadata={"tags": ["parameters"]}),
            new_code_cell("print(rows * rate)"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nbformat.write(nb, lab_server.root_dir / "jm_pipeline.ipynb")
    nb.cells[1].source = "raise ValueError('no report today')"
    nbformat.write(nb, lab_server.root_dir / "jm_report.ipynb")
    lab_server.api("jobs", "POST", {"name": "jm_prepare", "notebook": "jm_pipeline.ipynb"})
    lab_server.api(
        "jobs",
        "POST",
        {"name": "jm_train", "notebook": "jm_pipeline.ipynb", "depends_on": ["jm_prepare"]},
    )
    lab_server.api(
        "jobs",
        "POST",
        {"name": "jm_report", "notebook": "jm_report.ipynb", "depends_on": ["jm_train"]},
    )
    run = lab_server.api("jobs/jm_prepare/run", "POST", {})
    assert _wait_run(lab_server, run["id"])["state"] == "succeeded"
    deadline = time.monotonic() + 180
    for name, state in (("jm_train", "succeeded"), ("jm_report", "failed")):
        while not lab_server.api(f"runs?job={name}&limit=1")["items"]:
            assert time.monotonic() < deadline, f"{name} did not run after its upstream"
            time.sleep(0.5)
        last = lab_server.api(f"runs?job={name}&limit=1")["items"][0]
        assert _wait_run(lab_server, last["id"])["state"] == state
    return ["jm_prepare", "jm_train", "jm_report"]


def _open_job(page, name: str):
    open_mlinfra_panel(page)
    open_tab(page, "jobs").locator(
        "section[aria-label='Jobs'] [data-mlinfra-link='job']", has_text=name
    ).first.click()
    job = main_page(page, "job", name)
    job.locator("section[aria-label='Dependencies']").wait_for()
    return job


def _dialog_button(page, label: str):
    return page.locator(".jp-Dialog").get_by_role("button", name=label, exact=True)


def test_job_page_draws_dependencies_as_a_graph(wide, lab_server, pipeline, console_messages):
    page = wide
    open_lab(page)
    job = _open_job(page, "jm_train")
    graph = job.locator("[aria-label='Dependency graph']")
    nodes = graph.locator("[data-job-node]")
    for name in pipeline:  # upstream and downstream jobs arrive from separate requests
        graph.locator(f"[data-job-node='{name}']").wait_for()
    assert sorted(nodes.evaluate_all("ns => ns.map(n => n.dataset.jobNode)")) == sorted(pipeline)
    # upstream left of the job, downstream right of it; one arrow per dependency
    xs = {n: graph.locator(f"[data-job-node='{n}']").bounding_box()["x"] for n in pipeline}
    assert xs["jm_prepare"] < xs["jm_train"] < xs["jm_report"]
    assert sorted(graph.locator("polyline").evaluate_all("es => es.map(e => e.dataset.edge)")) == [
        "jm_prepare->jm_train",
        "jm_train->jm_report",
    ]
    # each node shows its last run; the job itself is not a link, the others are
    prepare = graph.locator("[data-job-node='jm_prepare']")
    prepare.locator("[data-state='succeeded']").wait_for()
    assert "succeeded" in prepare.inner_text()
    report_node = graph.locator("[data-job-node='jm_report']")
    report_node.locator("[data-state='failed']").wait_for()
    assert report_node.get_attribute("data-state") == "failed"
    assert prepare.get_attribute("data-state") == "succeeded"
    assert graph.locator("[data-job-node='jm_train'] [data-mlinfra-link]").count() == 0
    screenshot(page, "job-page-graph")
    assert_readable(job, "job page")

    # a node is a link to its job's page
    graph.locator("[data-job-node='jm_report'] [data-mlinfra-link='job']").click()
    report = main_page(page, "job", "jm_report")
    report.locator("[data-job-node='jm_prepare']").wait_for()
    assert report.locator("[data-job-node].jp-mod-current").inner_text().startswith("jm_report")
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def test_job_page_edits_the_job_in_place(wide, lab_server, pipeline, console_messages):
    page = wide
    open_lab(page)
    job = _open_job(page, "jm_train")
    job.get_by_role("button", name="Edit", exact=True).click()
    form = job.locator("form[aria-label='Edit job jm_train']")
    rows = form.locator("input[aria-label='Parameter rows']")
    rows.wait_for()
    assert rows.input_value() == "100"
    save = form.get_by_role("button", name="Save")

    # the Jobs form's checks, as you type: an int refuses 2500.7, an unknown zone, bad cron
    rows.fill("2500.7")
    assert form.locator("#mlinfra-param-error-rows").inner_text() == "not an int: 2500.7"
    assert save.is_disabled()
    rows.fill("250")
    form.locator("input[aria-label='Time zone']").fill("Mars/Olympus")
    form.get_by_text("unknown time zone").wait_for()
    assert save.is_disabled()
    form.locator("input[aria-label='Time zone']").fill("Europe/Paris")
    form.locator("input[aria-label='Cron schedule']").fill("0 6 * * 1-5")
    form.locator("[aria-label='Schedule in words']").wait_for()
    assert "Monday through Friday" in form.locator("[aria-label='Schedule in words']").inner_text()
    form.locator("ol[aria-label='Next fire times'] li").first.wait_for()
    form.locator("input[aria-label='Priority']").fill("1.5")
    assert save.is_disabled()
    form.locator("input[aria-label='Priority']").fill("5")
    form.locator("input[aria-label='Retries']").fill("2")
    form.locator("input[aria-label='Timeout']").fill("600")
    form.locator("select[aria-label='Visibility']").select_option("public")
    assert save.is_enabled()
    screenshot(page, "job-page-edit")
    assert_readable(job, "job edit form")
    save.click()
    form.wait_for(state="detached")

    saved = lab_server.api("jobs/jm_train")
    assert saved["parameters"]["rows"] == 250 and isinstance(saved["parameters"]["rows"], int)
    assert saved["parameters"]["rate"] == 0.5
    assert (saved["schedule"], saved["timezone"]) == ("0 6 * * 1-5", "Europe/Paris")
    assert (saved["priority"], saved["retries"], saved["timeout_seconds"]) == (5, 2, 600)
    assert saved["visibility"] == "public"
    assert saved["depends_on"] == ["jm_prepare"]
    # the page shows what was saved
    job.locator("ol[aria-label='Next fire times'] li").first.wait_for()
    assert "250" in job.locator("table[aria-label='Parameters']").inner_text()

    # a dependency cycle: the server's 409 is shown and nothing changes
    report_first = _open_job(page, "jm_prepare")
    report_first.get_by_role("button", name="Edit", exact=True).click()
    form = report_first.locator("form[aria-label='Edit job jm_prepare']")
    form.locator("label.jp-mlinfra-Jobs-dep", has_text="jm_report").locator("input").check()
    form.get_by_role("button", name="Save").click()
    banner = form.locator(".jp-mlinfra-ErrorBanner")
    banner.wait_for()
    assert "HTTP 409" in banner.inner_text() and "cycle" in banner.inner_text()
    assert lab_server.api("jobs/jm_prepare")["depends_on"] == []
    form.get_by_role("button", name="Cancel").click()
    unexpected = mlinfra_errors(console_messages, expected=("409 (Conflict)",))
    assert not unexpected, unexpected


def test_job_page_pause_resume_delete_ask_first(wide, lab_server, pipeline, console_messages):
    page = wide
    lab_server.api(
        "jobs",
        "POST",
        {"name": "jm_scratch", "notebook": "jm_pipeline.ipynb", "schedule": "0 * * * *"},
    )
    open_lab(page)
    job = _open_job(page, "jm_scratch")
    toolbar = job.locator(".jp-mlinfra-PageHeader .jp-mlinfra-Toolbar")

    toolbar.get_by_role("button", name="Pause").click()
    _dialog_button(page, "Cancel").click()
    assert lab_server.api("jobs/jm_scratch")["active"] is True
    toolbar.get_by_role("button", name="Pause").click()
    screenshot(page, "job-page-pause-confirm")
    _dialog_button(page, "Pause").click()
    toolbar.get_by_text("paused", exact=True).wait_for()
    assert lab_server.api("jobs/jm_scratch")["active"] is False

    toolbar.get_by_role("button", name="Resume").click()
    _dialog_button(page, "Resume").click()
    toolbar.get_by_text("active", exact=True).wait_for()
    assert lab_server.api("jobs/jm_scratch")["active"] is True

    toolbar.get_by_role("button", name="Delete").click()
    _dialog_button(page, "Cancel").click()
    assert lab_server.api("jobs/jm_scratch")["name"] == "jm_scratch"
    toolbar.get_by_role("button", name="Delete").click()
    _dialog_button(page, "Delete").click()
    job.wait_for(state="detached")
    status, _ = lab_server.request("GET", "mlinfra/api/jobs/jm_scratch")
    assert status == 404
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


@pytest.fixture(scope="module")
def two_models(lab_server):
    """``jm_mine`` owned by the server's user, ``jm_theirs`` owned by another user."""
    from sklearn.linear_model import LinearRegression

    me = lab_server.api("health")["user"]
    made = []
    for owner, name in ((me, "jm_mine"), ("bob_jm", "jm_theirs")):
        ws = lab_server.workspace(owner)
        models = ws.service("models")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models.register(
                name,
                LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0]),
                metrics={"rmse": 0.1},
            )
        models.update(name, description="first draft", tags={"team": "growth", "stage": "draft"})
        ws.close()
        made.append(name)
    return made


def _open_model(page, name: str):
    open_mlinfra_panel(page)
    open_tab(page, "models").locator(
        f"table[aria-label='Models'] tr[data-row-key='{name}']"
    ).click()
    model = main_page(page, "model", name)
    model.locator("[aria-label='About the model']").wait_for()
    return model


def test_model_page_edits_description_and_tags(wide, lab_server, two_models, console_messages):
    page = wide
    open_lab(page)
    model = _open_model(page, "jm_mine")
    about = model.locator("[aria-label='About the model']")
    assert "first draft" in about.inner_text()
    assert sorted(about.locator("[data-tag]").evaluate_all("ts => ts.map(t => t.dataset.tag)")) == [
        "stage",
        "team",
    ]
    about.get_by_role("button", name="Edit description and tags").click()
    form = model.locator('form[aria-label="Edit the model\'s description and tags"]')
    form.locator("textarea[aria-label='Description']").fill("Churn model, weekly retrain")
    tags = form.locator("textarea[aria-label='Tags']")
    tags.fill("team=growth\nnot a tag")
    form.get_by_text("not key=value: not a tag").wait_for()
    assert form.get_by_role("button", name="Save").is_disabled()
    tags.fill("team=retention\nreviewed=yes")
    screenshot(page, "model-page-edit")
    assert_readable(model, "model edit form")
    form.get_by_role("button", name="Save").click()
    form.wait_for(state="detached")
    about.get_by_text("Churn model, weekly retrain").wait_for()
    saved = lab_server.api("models/jm_mine")
    assert saved["description"] == "Churn model, weekly retrain"
    assert saved["tags"] == {"team": "retention", "reviewed": "yes"}  # "stage" removed
    about.locator("[data-tag='reviewed']").wait_for()
    screenshot(page, "model-page-about")
    assert_readable(model, "model page")

    # another user's model: the server refuses (403) and the page says why
    theirs = _open_model(page, "jm_theirs")
    theirs.get_by_role("button", name="Edit description and tags").click()
    form = theirs.locator('form[aria-label="Edit the model\'s description and tags"]')
    form.locator("textarea[aria-label='Description']").fill("mine now")
    form.get_by_role("button", name="Save").click()
    banner = form.locator(".jp-mlinfra-ErrorBanner")
    banner.wait_for()
    text = banner.inner_text()
    assert "HTTP 403" in text and "belongs to bob_jm" in text, text
    assert lab_server.api("models/jm_theirs")["description"] == "first draft"
    unexpected = mlinfra_errors(console_messages, expected=("403 (Forbidden)",))
    assert not unexpected, unexpected


def test_job_and_model_pages_in_the_dark_theme(
    wide, lab_server, pipeline, two_models, console_messages
):
    page = wide
    _set_theme(lab_server, "JupyterLab Dark")
    try:
        open_lab(page)
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        job = _open_job(page, "jm_train")
        job.locator("[data-job-node='jm_prepare'] [data-state='succeeded']").wait_for()
        screenshot(page, "job-page-graph-dark")
        assert_readable(job, "job page (dark)")
        job.get_by_role("button", name="Edit", exact=True).click()
        job.locator("input[aria-label='Parameter rows']").wait_for()
        screenshot(page, "job-page-edit-dark")
        assert_readable(job, "job edit form (dark)")
        model = _open_model(page, "jm_mine")
        model.get_by_role("button", name="Edit description and tags").click()
        screenshot(page, "model-page-edit-dark")
        assert_readable(model, "model page (dark)")
    finally:
        _set_theme(lab_server, "JupyterLab Light")
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def _open_tour(page):
    card = page.locator(".jp-LauncherCard", has_text="ML Infra tour")
    card.wait_for(state="visible")
    card.click()
    tour = main_page(page, "tour")
    tour.locator("[data-mlinfra-example]").first.wait_for()
    return tour


def test_tour_copies_and_opens_the_example_notebooks(wide, lab_server, console_messages):
    page = wide
    examples = lab_server.root_dir / "example_notebooks"
    repo_examples = Path(__file__).resolve().parents[2] / "example_notebooks"
    names = sorted(p.name for p in repo_examples.glob("*.ipynb"))
    # the user has a notebook of that name already: it must survive the copy
    examples.mkdir(exist_ok=True)
    (examples / "jobs_train.ipynb").write_text(nbformat.writes(new_notebook()))
    mine = (examples / "jobs_train.ipynb").read_text()

    open_lab(page)
    tour = _open_tour(page)
    example = "[data-mlinfra-example='example_notebooks/provenance_demo.ipynb']"
    provenance = tour.locator(example)
    tour.locator(example, has_text="Copy and open the example").wait_for()
    jobs_step = tour.locator("li[data-step='jobs']")
    assert "not in your folder" not in jobs_step.inner_text()  # the user's own file is there
    screenshot(page, "tour-before-copy")
    assert_readable(tour, "tour")

    tour.get_by_role("button", name="Copy the examples").click()
    status = tour.locator("[role='status']")
    status.wait_for()
    assert status.inner_text() == (
        f"Copied {len(names) - 1} example notebooks into example_notebooks/. "
        "1 already there was kept as it is."
    )
    assert (examples / "jobs_train.ipynb").read_text() == mine
    assert sorted(p.name for p in examples.glob("*.ipynb")) == names
    tour.get_by_text("every example is in example_notebooks/").wait_for()
    assert tour.get_by_role("button", name="Copy the examples").count() == 0
    screenshot(page, "tour-copied")
    assert_readable(tour, "tour after the copy")

    # a step's example opens as a notebook in JupyterLab
    tour.locator(example, has_text="Open the example").wait_for()
    provenance.click()
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="provenance_demo.ipynb").wait_for()
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def test_tour_in_the_dark_theme(wide, lab_server, console_messages):
    page = wide
    _set_theme(lab_server, "JupyterLab Dark")
    try:
        open_lab(page)
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        tour = _open_tour(page)
        screenshot(page, "tour-dark")
        assert_readable(tour, "tour (dark)")
    finally:
        _set_theme(lab_server, "JupyterLab Light")
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)
