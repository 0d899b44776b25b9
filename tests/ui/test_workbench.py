"""The ML Infra workbench in a real JupyterLab (headless Chromium, 1440x900): main-area pages
for a run, a job, a model and a feature view, reopened after a reload; the entry points (the
notebook toolbar's "Run / schedule as job", the file browser's context menu, the launcher's
tour, the "ML Infra" main menu, palette commands); the flows a new user follows (make a job
from the toolbar, watch it run, get its output; follow a model's lineage to its feature view
and back); every page's text readable (WCAG AA) in the light and the dark theme, no word
broken in the middle. Screenshots: test-artifacts/ui/workbench-*.png."""

from __future__ import annotations

import json
import re
import time
import warnings

import nbformat
import numpy as np
import pandas as pd
import pytest
from jupyterlab_page import (
    assert_readable,
    main_page,
    mlinfra_errors,
    open_lab,
    open_mlinfra_panel,
    open_tab,
    run_command,
    screenshot,
)
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def etl_notebook(lab_server):
    nb = new_notebook(
        cells=[
            new_code_cell(
                "rows = 100\nrate = 0.5\nregion = 'eu'", metadata={"tags": ["parameters"]}
            ),
            new_code_cell(
                "import jupyter_mlinfra\ntotal = rows * rate\nprint(f'{region}: total {total}')"
            ),
            new_code_cell(
                "jupyter_mlinfra.log_metric('train_rmse', total / 1000)\n"
                "for step, loss in enumerate([0.9, 0.6, 0.45, 0.4]):\n"
                "    jupyter_mlinfra.log_metric('val_loss', loss, step=step)"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nbformat.write(nb, lab_server.root_dir / "etl.ipynb")
    return "etl.ipynb"


@pytest.fixture(scope="module")
def lineage(lab_server):
    """A feature view ``usage`` and a model ``upsell`` trained on a frame joined from it (so
    the model's lineage names the view and the view is used by the model)."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.models.capture import SessionContext

    ws = lab_server.workspace("alice")
    features, models = ws.service("features"), ws.service("models")
    features.register_entity("account", ["account_id"], "a customer account")
    rng = np.random.default_rng(7)
    now = pd.Timestamp.now(tz="UTC").floor("min")
    events = pd.DataFrame(
        {
            "account_id": rng.integers(0, 20, 200),
            "event_timestamp": now - pd.to_timedelta(rng.integers(60, 3 * 86400, 200), unit="s"),
            "minutes": rng.gamma(2.0, 10.0, 200).round(1),
        }
    )
    features.register_view(
        "usage",
        entities="account",
        source=events,
        ttl="7d",
        description="minutes of use per event",
        visibility="public",
    )
    features.materialize("usage")
    frame = features.get_training_frame(
        pd.DataFrame({"account_id": list(range(10)), "event_timestamp": [now] * 10}),
        ["usage:minutes"],
    )
    frame["minutes"] = frame["minutes"].fillna(0.0)
    y = [0, 1] * 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models.register(
            "upsell",
            LogisticRegression(C=0.5).fit(frame[["minutes"]], y),
            training_data=frame,
            metrics={"train_rmse": 0.42, "auc": 0.7},
            context=SessionContext(
                history=["frame = load()", "fit(frame)"], notebook_path="etl.ipynb"
            ),
        )
    yield
    features.close()
    ws.close()


def test_run_and_schedule_from_the_notebook_toolbar(
    wide, lab_server, etl_notebook, console_messages
):
    page = wide
    open_lab(page, etl_notebook)
    button = page.locator(".jp-NotebookPanel-toolbar [data-jp-item-name='mlinfra-run-as-job']")
    button.wait_for(state="visible")
    assert "Run / schedule as job" in button.inner_text()
    screenshot(page, "workbench-toolbar-button")
    button.locator("button").click()

    # the job form opens in the main area, prefilled from the parameters cell
    form_page = main_page(page, "new-job", etl_notebook)
    rows = form_page.locator("input[aria-label='Parameter rows']")
    rows.wait_for(state="visible", timeout=30_000)
    assert rows.input_value() == "100"
    assert form_page.locator("input[aria-label='Parameter region']").input_value() == "eu"
    rows.fill("2500.7")
    form_page.locator("[data-parameter='rows'] [role='alert']", has_text="not an int").wait_for()
    assert form_page.get_by_role("button", name="Create job").is_disabled()
    rows.fill("200")
    form_page.locator("input[aria-label='Job name']").fill("etl")
    form_page.locator("input[aria-label='Cron schedule']").fill("30 7 * * 1-5")
    form_page.locator("input[aria-label='Time zone']").fill("America/New_York")
    words = form_page.get_by_label("Schedule in words")
    words.wait_for()
    assert "07:30" in words.inner_text() and "Monday through Friday" in words.inner_text()
    form_page.locator("ol[aria-label='Next fire times'] li").first.wait_for()
    screenshot(page, "workbench-job-form")
    assert_readable(form_page, "job form")
    form_page.get_by_role("button", name="Create job").click()

    # the job's page: schedule in words, next fire times with weekday and "in N h"
    job = main_page(page, "job", "etl")
    fire = job.locator("ol[aria-label='Next fire times'] li")
    fire.first.wait_for()
    first = fire.first.inner_text()
    assert "07:30" in first and " (in " in first, first
    assert any(day in first for day in ("Mon", "Tue", "Wed", "Thu", "Fri")), first
    assert (
        job.locator("table[aria-label='Parameters'] tr[data-key='rows']").inner_text().split()[-1]
        == "200"
    )
    screenshot(page, "workbench-job-page")
    assert_readable(job, "job page")

    # run it now from the job's page: the run's page follows it to the end
    job.get_by_role("button", name="Run now").click()
    run = main_page(page, "run")
    run.locator("[data-state='succeeded']").wait_for(timeout=120_000)
    run.locator("pre[aria-label='Run log']", has_text="eu: total 100.0").wait_for(timeout=15_000)
    # names verbatim (no `_` turned into spaces)
    assert (
        run.locator("table[aria-label='Metrics'] tr[data-key='train_rmse'] th").inner_text()
        == "train_rmse"
    )
    # a metric logged at several steps gets a chart (Vega-Lite) with its name as the axis
    loss_chart = run.locator("figure[aria-label='val_loss over steps']")
    loss_chart.locator("svg.marks").wait_for()
    assert loss_chart.get_attribute("data-values") == "0.9,0.6,0.45,0.4"
    assert "val_loss" in loss_chart.locator("svg.marks").text_content()
    assert run.get_by_role("button", name="Run again").is_visible()
    assert run.get_by_role("button", name="Retry").count() == 0
    screenshot(page, "workbench-run-page")
    assert_readable(run, "run page")

    # its output, downloaded as .ipynb (not copied into the user's folder)
    with page.expect_download() as download:
        run.get_by_role("link", name="Download .ipynb").click()
    output = json.loads(open(download.value.path()).read())
    assert output["nbformat"] == 4
    assert any("eu: total 100.0" in json.dumps(c.get("outputs", [])) for c in output["cells"])

    # the run's job name links back to the job page
    run.locator("h1 [data-mlinfra-link='job']").click()
    main_page(page, "job", "etl").locator(
        "table[aria-label='Run history'] [data-state]"
    ).first.wait_for()
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def test_lineage_links_model_to_feature_view_and_back(wide, lab_server, lineage, console_messages):
    page = wide
    open_lab(page)
    open_mlinfra_panel(page)
    body = open_tab(page, "models")
    body.locator("table[aria-label='Models'] tr[data-row-key='upsell']").click()
    model = main_page(page, "model", "upsell")
    lineage_table = model.locator("div[data-version='1'] table[aria-label='Lineage']")
    lineage_table.wait_for(state="visible")
    # the training data's features link to their view; the notebook to the notebook
    assert lineage_table.locator("[data-mlinfra-link='notebook']").inner_text() == "etl.ipynb"
    view_link = lineage_table.locator("[data-mlinfra-link='feature-view']").first
    assert view_link.inner_text().startswith("usage")
    model.locator("figure[aria-label='auc across versions']").wait_for()
    screenshot(page, "workbench-model-page")
    assert_readable(model, "model page")

    view_link.click()
    view = main_page(page, "feature-view", "usage")
    used_by = view.locator("[aria-label='Used by'] [data-mlinfra-link='model']")
    used_by.wait_for()
    assert used_by.inner_text() == "upsell v1"
    sample = view.locator("table[aria-label='Sample rows']")
    sample.wait_for()
    assert sample.locator("thead th").first.inner_text().startswith("account_id")
    screenshot(page, "workbench-feature-view-page")
    assert_readable(view, "feature view page")

    # and back: the model's page is activated again (not opened twice)
    used_by.click()
    main_page(page, "model", "upsell")
    assert page.locator(".jp-mlinfra-Page[data-mlinfra-page='model']").count() == 1

    # a reload brings the pages back (layout restorer, command + args as the route), once
    # JupyterLab has saved the layout (it does so a moment after a change)
    workspace = re.search(r"/workspaces/([^/?]+)", page.url).group(1)
    deadline = time.monotonic() + 20
    while True:
        _, saved = lab_server.request("GET", f"lab/api/workspaces/{workspace}")
        data = json.dumps(saved)
        if "mlinfra-model:upsell" in data and "mlinfra-feature-view:usage" in data:
            break
        assert time.monotonic() < deadline, f"layout not saved: {data[:400]}"
        page.wait_for_timeout(250)
    page.reload(wait_until="domcontentloaded")
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel")
    tabs.filter(has_text="Model upsell").wait_for()
    tabs.filter(has_text="Features usage").wait_for()
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def test_entry_points(wide, lab_server, etl_notebook, lineage, console_messages):
    page = wide
    open_lab(page)

    # the launcher card opens the tour
    card = page.locator(".jp-LauncherCard", has_text="ML Infra tour")
    card.wait_for(state="visible")
    card.click()
    tour = main_page(page, "tour")
    assert tour.locator("li[data-step]").count() == 4
    screenshot(page, "workbench-tour")
    assert_readable(tour, "tour")
    tour.locator("li[data-step='jobs']").get_by_role("button").click()
    page.locator("#mlinfra-panel [data-mlinfra-tab='jobs']").wait_for(state="visible")

    # the main menu's "ML Infra" menu lists the commands
    page.locator(".lm-MenuBar-itemLabel", has_text="ML Infra").click()
    menu = page.locator("#jp-mlinfra-mainmenu")
    menu.wait_for(state="visible")
    items = menu.locator(".lm-Menu-itemLabel").all_inner_texts()
    for label in (
        "Run / schedule as job",
        "Open Model",
        "Open Run",
        "Verify notebook in a fresh kernel",
        "Export replay notebook",
        "ML Infra tour",
    ):
        assert label in items, items
    page.keyboard.press("Escape")

    # the palette: "Open Model" asks which one, then opens its page
    run_command(page, "Open Model")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(state="visible")
    dialog.locator("input").fill("upsell")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    main_page(page, "model", "upsell")

    # the file browser's context menu on a notebook
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='filebrowser']").click()
    item = page.locator(f".jp-DirListing-item[title^='Name: {etl_notebook}']")
    item.wait_for(state="visible")
    item.click(button="right")
    entry = page.locator(".lm-Menu-item", has_text="Run / schedule as job")
    entry.wait_for(state="visible")
    screenshot(page, "workbench-file-browser-menu")
    entry.click()
    main_page(page, "new-job", etl_notebook).locator("input[aria-label='Parameter rows']").wait_for(
        timeout=30_000
    )
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def test_notebook_hub(wide, lab_server, etl_notebook, console_messages):
    """Executed notebooks: searchable by text in their outputs, each shown read-only as
    rendered HTML (after the toolbar flow above ran etl.ipynb)."""
    page = wide
    open_lab(page)
    run_command(page, "Executed notebooks")
    hub = main_page(page, "notebooks")
    table = hub.locator("table[aria-label='Executed notebooks']")
    hub.get_by_label("Search notebooks: Text in cells and outputs").fill("eu: total")
    row = table.locator("tbody tr", has_text="etl.ipynb").first
    row.wait_for(timeout=30_000)
    hub.get_by_label("Search notebooks: Text in cells and outputs").fill("no such text anywhere")
    table.locator("tbody tr", has_text="etl.ipynb").first.wait_for(state="detached")
    hub.get_by_label("Search notebooks: Text in cells and outputs").fill("eu: total")
    row.wait_for()
    row.get_by_role("button", name="View").click()
    frame = page.frame_locator("iframe.jp-mlinfra-NotebookFrame")
    frame.get_by_text("eu: total 100.0").first.wait_for(timeout=20_000)
    screenshot(page, "workbench-notebook-hub")
    assert_readable(hub.locator("section[aria-label='Executed notebooks list']"), "notebook hub")
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def _set_theme(lab_server, theme: str) -> None:
    status, body = lab_server.request(
        "PUT",
        "lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": theme})},
    )
    assert status == 204, body


def test_pages_in_the_dark_theme(wide, lab_server, etl_notebook, lineage, console_messages):
    page = wide
    _set_theme(lab_server, "JupyterLab Dark")
    try:
        open_lab(page)
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        jobs = lab_server.api("jobs")
        runs = lab_server.api("runs?limit=1")
        opened = [
            ("model", {"name": "upsell"}, "mlinfra:open-model"),
            ("feature-view", {"name": "usage"}, "mlinfra:open-feature-view"),
        ]
        if runs["items"]:
            opened.append(("run", {"id": runs["items"][0]["id"]}, "mlinfra:open-run"))
        names = [j["name"] for j in jobs.get("items", jobs.get("jobs", []))]
        if names:
            opened.append(("job", {"name": names[0]}, "mlinfra:open-job"))
        for kind, args, command in opened:
            _execute(page, command, args)
            shown = main_page(page, kind)
            shown.locator("table").first.wait_for()
            screenshot(page, f"workbench-dark-{kind}")
            assert_readable(shown, f"{kind} page (dark)")
    finally:
        _set_theme(lab_server, "JupyterLab Light")
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def _execute(page, command: str, args: dict) -> None:
    """Open a page as a user does: a row or a link in the side panel."""
    if command == "mlinfra:open-model":
        open_mlinfra_panel(page)
        open_tab(page, "models").locator(
            f"table[aria-label='Models'] tr[data-row-key='{args['name']}']"
        ).click()
    elif command == "mlinfra:open-feature-view":
        open_mlinfra_panel(page)
        open_tab(page, "features").locator(
            f"table[aria-label='Feature views'] tr[data-row-key='{args['name']}']"
        ).click()
    elif command == "mlinfra:open-run":
        open_mlinfra_panel(page)
        open_tab(page, "jobs").locator(
            f"section[aria-label='Runs'] tr[data-row-key='{args['id']}']"
        ).click()
    elif command == "mlinfra:open-job":
        open_mlinfra_panel(page)
        open_tab(page, "jobs").locator(
            "section[aria-label='Jobs'] [data-mlinfra-link='job']", has_text=args["name"]
        ).first.click()
