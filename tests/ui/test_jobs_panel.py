"""The Jobs tab of the ML Infra panel in a real JupyterLab (headless Chromium): a job form
pre-filled and typed from the open notebook's parameters cell, a schedule picker with the
next fire times, lists that refresh by themselves, a run's detail with progress, metrics,
log, retry and "open output". Screenshots: test-artifacts/ui/jobs-*.png."""

from __future__ import annotations

import nbformat
import pytest
from jupyterlab_page import (
    contrast,
    list_items,
    main_page,
    open_lab,
    open_mlinfra_panel,
    open_tab,
    screenshot,
)
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def train_notebook(lab_server):
    nb = new_notebook(
        cells=[
            new_code_cell(
                "lr = 0.1\nepochs = 3\nlabel = 'baseline'\nshuffle = True",
                metadata={"tags": ["parameters"]},
            ),
            new_code_cell(
                "import jupyter_mlinfra\nloss = 1.0 / (1 + lr * epochs)\n"
                "print(f'{label}: loss {loss:.4f}')"
            ),
            new_code_cell("jupyter_mlinfra.log_metric('loss', loss)"),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nbformat.write(nb, lab_server.root_dir / "train.ipynb")
    return "train.ipynb"


def test_jobs_panel(page, lab_server, train_notebook):
    open_lab(page, train_notebook)
    open_mlinfra_panel(page)
    tab = open_tab(page, "Jobs")
    form = tab.locator("section[aria-label='New job']")
    lr = form.locator("input[aria-label='Parameter lr']")
    lr.wait_for(state="visible", timeout=30_000)
    # pre-filled and typed from the parameters cell
    assert lr.input_value() == "0.1" and lr.get_attribute("inputmode") == "decimal"
    assert form.locator("input[aria-label='Parameter epochs']").input_value() == "3"
    assert form.locator("input[aria-label='Parameter label']").input_value() == "baseline"
    assert form.locator("input[aria-label='Parameter shuffle']").is_checked()
    assert form.locator("input[aria-label='Job name']").input_value() == "train"

    # schedule picker: a preset, a time zone, the next five fire times
    form.get_by_role("button", name="weekdays 06:00").click()
    form.locator("input[aria-label='Time zone']").fill("Europe/Paris")
    fire = form.locator("ol[aria-label='Next fire times'] li")
    fire.first.wait_for(state="visible")
    assert fire.count() == 5 and "06:00" in fire.first.inner_text()
    form.locator("input[aria-label='Cron schedule']").fill("0 25 * * *")
    form.locator(".jp-mlinfra-ErrorBanner", has_text="invalid cron").wait_for()
    form.get_by_role("button", name="weekdays 06:00").click()
    assert "Monday through Friday" in form.get_by_label("Schedule in words").inner_text()
    # validated as typed against the papermill type; what was typed stays as typed
    epochs = form.locator("input[aria-label='Parameter epochs']")
    epochs.fill("2500.7")
    form.locator("[data-parameter='epochs'] [role='alert']", has_text="not an int").wait_for()
    assert epochs.input_value() == "2500.7"
    assert form.get_by_role("button", name="Create job").is_disabled()
    assert form.get_by_role("button", name="Run now").is_disabled()
    lr.fill("")
    form.locator("[data-parameter='lr'] [role='alert']", has_text="a float is required").wait_for()
    epochs.fill("3")
    form.locator("input[aria-label='Time zone']").fill("Mars/Olympus")
    form.get_by_text("unknown time zone").wait_for()
    assert form.get_by_role("button", name="Create job").is_disabled()
    form.locator("input[aria-label='Time zone']").fill("Europe/Paris")
    lr.fill("0.5")
    assert form.get_by_role("button", name="Create job").is_enabled()
    fire.first.wait_for(state="visible")
    screenshot(page, "jobs-form")

    form.get_by_role("button", name="Create job").click()
    form.locator("[role='status']", has_text="Job train created").wait_for()
    jobs_table = tab.locator("section[aria-label='Jobs']")
    jobs_table.get_by_text("train", exact=False).first.wait_for()
    # (the test's token requests are another Jupyter user than the browser: look it up by id)
    job = next(j for j in list_items(lab_server.api("jobs"), "jobs") if j["name"] == "train")
    assert job["parameters"]["lr"] == 0.5 and job["schedule"] == "0 6 * * 1-5"
    assert job["parameters"]["epochs"] == 3 and job["parameters"]["shuffle"] is True

    # run it now: the run's page opens in the main area and follows the run until it succeeds
    form.get_by_role("button", name="Run now").click()
    detail = main_page(page, "run")
    first_id = detail.get_attribute("data-mlinfra-key")
    detail.locator("[data-state='succeeded']").wait_for(timeout=120_000)
    detail.locator("table[aria-label='Metrics']").get_by_text("loss").wait_for()
    detail.locator("pre[aria-label='Run log']", has_text="baseline: loss 0.4000").wait_for(
        timeout=15_000
    )
    # three cells plus the parameters cell papermill injects
    assert detail.locator("progress").get_attribute("value") == "4"
    # the runs list refreshed by itself; the run shown is its selected row, and the text
    # on that row stays readable on the selection colour
    tab.locator("section[aria-label='Runs'] [data-state='succeeded']").first.wait_for()
    selected = tab.locator("section[aria-label='Runs'] tr.jp-mod-selected")
    selected.wait_for()
    cells = selected.locator("td").all() + selected.locator(".jp-mlinfra-Jobs-muted").all()
    assert len(cells) >= 4
    for cell in cells:
        assert contrast(cell) >= 4.5, cell.inner_text()
    screenshot(page, "jobs-run-detail")

    # open the output notebook in JupyterLab
    detail.get_by_role("button", name="Open output notebook").click()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel", has_text="train-").first.wait_for(
        timeout=20_000
    )
    # in the opened notebook (the run's page, in another tab, renders the same output)
    page.locator(
        ".jp-NotebookPanel .jp-OutputArea-output", has_text="baseline: loss 0.4000"
    ).first.wait_for(timeout=20_000)
    screenshot(page, "jobs-output-notebook")

    # "Run again" (not "Retry") on a finished run makes a new run and opens its page
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"Run {first_id[:8]}").click()
    detail = main_page(page, "run", first_id)
    detail.get_by_role("button", name="Run again").click()
    page.wait_for_function(
        "id => [...document.querySelectorAll(\".jp-mlinfra-Page[data-mlinfra-page='run']\")]"
        ".some(p => p.dataset.mlinfraKey !== id && p.offsetParent !== null)",
        arg=first_id,
    )
    runs = lab_server.api("runs?trigger=retry")
    assert runs["total"] == 1
