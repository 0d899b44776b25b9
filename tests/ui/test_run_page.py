"""The run page in a real JupyterLab (headless Chromium, 1440x900, light and dark theme): a
run that logs a metric over steps, writes a PNG, a CSV and a JSON artifact, shows an HTML
output that carries a script, and then fails in its third code cell. While it runs, its
page shows the output notebook growing cell by cell; once it failed: the error (type,
message, traceback without ANSI codes) with a "cell 3" link that scrolls the rendered
output to the failing cell and marks it, previews of the artifacts, a chart whose step axis
has whole steps only, and no script of the notebook ran. Screenshots:
test-artifacts/ui/run-page-*.png."""

from __future__ import annotations

import json
import time

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
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

pytestmark = pytest.mark.browser


def _failing_notebook(root, gate) -> str:
    """Code cells: 1 logs a metric over steps and prints; 2 waits for ``gate`` (so the test
    sees the run going), then saves artifacts and shows HTML with a script; 3 fails."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Training report\nLoss per step, then the artifacts."),
            new_code_cell(
                "import jupyter_mlinfra\n"
                "for step, loss in enumerate([0.92, 0.71, 0.55, 0.48, 0.45]):\n"
                "    jupyter_mlinfra.log_metric('val_loss', loss, step=step)\n"
                "print('first cell done')"
            ),
            new_markdown_cell("## Artifacts"),
            new_code_cell(
                "import pathlib, time\n"
                f"while not pathlib.Path({str(gate)!r}).exists():\n"
                "    time.sleep(0.1)\n"
                "import matplotlib\n"
                "matplotlib.use('Agg')\n"
                "import matplotlib.pyplot as plt\n"
                "import pandas as pd\n"
                "from IPython.display import HTML, display\n"
                "fig, ax = plt.subplots(figsize=(4, 2.5))\n"
                "ax.plot([0, 1, 2, 3, 4], [0.92, 0.71, 0.55, 0.48, 0.45])\n"
                "ax.set_xlabel('step'); ax.set_ylabel('val_loss')\n"
                "jupyter_mlinfra.log_artifact('loss_curve.png', fig)\n"
                "scores = pd.DataFrame({'account_id': range(1, 41), 'score': [i / 40 for i in "
                "range(40)]})\n"
                "jupyter_mlinfra.log_artifact('scores.csv', scores)\n"
                "jupyter_mlinfra.log_artifact('summary.json', {'best_step': 4, 'val_loss': 0.45})\n"
                "jupyter_mlinfra.log_artifact('weights.bin', bytes(range(256)) * 8)\n"
                'display(HTML(\'<b class="from-notebook">bold output</b>'
                '<script>document.title = "pwned"</script>\'))\n'
                "print('saved 4 artifacts')"
            ),
            new_code_cell("batch = 7\nraise ValueError(f'bad batch {batch}')"),
            new_code_cell("print('never runs')"),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nbformat.write(nb, root / "failing_train.ipynb")
    return "failing_train.ipynb"


def _wait_run(lab_server, run_id: str, done, what: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = lab_server.api(f"runs/{run_id}")
        if done(run):
            return run
        assert time.monotonic() < deadline, f"{what}: {json.dumps(run)[:600]}"
        time.sleep(0.2)


def _set_theme(lab_server, theme: str) -> None:
    status, body = lab_server.request(
        "PUT",
        "lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": theme})},
    )
    assert status == 204, body


def _open_run(page, run_id: str):
    open_mlinfra_panel(page)
    open_tab(page, "jobs").locator(
        f"section[aria-label='Runs'] tr[data-row-key='{run_id}']"
    ).click()
    return main_page(page, "run", run_id)


@pytest.fixture(scope="module")
def failed_run(lab_server):
    """Filled in by the first test (which watches the run), read by the dark-theme test."""
    return {}


def test_run_page_output_error_link_and_previews(wide, lab_server, failed_run, console_messages):
    page = wide
    gate = lab_server.root_dir / "go-on"
    notebook = _failing_notebook(lab_server.root_dir, gate)
    run = lab_server.api("runs", "POST", {"notebook": notebook})
    run_id = run["id"]
    failed_run["id"] = run_id

    # while it runs: the output notebook shows the cells done so far, and grows
    _wait_run(
        lab_server,
        run_id,
        lambda r: (r["progress"] or {}).get("executed", 0) >= 1,
        "the first cell to run",
    )
    open_lab(page)
    view = _open_run(page, run_id)
    output = view.locator("[aria-label='Output notebook (read-only)']")
    output.locator(".jp-OutputArea-output", has_text="first cell done").wait_for(timeout=30_000)
    assert output.locator(".jp-OutputArea-output", has_text="saved 4 artifacts").count() == 0
    # the markdown is rendered by JupyterLab's renderer, not shown as source
    output.locator(".jp-RenderedMarkdown h1", has_text="Training report").wait_for()
    assert (
        "(updates as cells complete)"
        in view.locator("section[aria-label='Output notebook'] > h2").inner_text()
    )

    gate.write_text("go")
    view.locator("[data-state='failed']").wait_for(timeout=120_000)
    output.locator(".jp-OutputArea-output", has_text="saved 4 artifacts").wait_for(timeout=30_000)
    # the error output of the failing cell is rendered too (JupyterLab's traceback view)
    output.locator(
        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']", has_text="bad batch 7"
    ).wait_for(timeout=30_000)
    assert output.locator(".jp-OutputArea-output", has_text="never runs").count() == 0

    # the error: type, message, traceback without ANSI codes, and a link to its cell
    error = view.locator("[aria-label='Run error']")
    assert error.locator("[data-field='ename']").inner_text() == "ValueError"
    assert error.locator("[data-field='evalue']").inner_text() == "bad batch 7"
    traceback = error.locator("pre[aria-label='Traceback']").inner_text()
    assert "ValueError" in traceback and "\x1b[" not in traceback and "[0;" not in traceback
    link = error.locator("[data-mlinfra-link='failed-cell']")
    assert link.inner_text() == "cell 3"
    failing = output.locator("[data-execution-count='3']")
    assert "jp-mlinfra-OutputCell-failed" in failing.get_attribute("class")
    assert "raise ValueError" in failing.locator(".jp-InputArea").inner_text()

    # the metric chart: whole steps only on its x axis, titles, a value on hover
    chart = view.locator("figure[aria-label='val_loss over steps']")
    chart.locator("svg.marks").wait_for()
    x_labels = chart.locator("g[aria-label^='X-axis'] g.role-axis-label text").all_text_contents()
    assert x_labels and all(t.strip().isdigit() for t in x_labels), x_labels
    assert x_labels == ["0", "1", "2", "3", "4"], x_labels
    titles = chart.locator("g.role-axis-title text").all_text_contents()
    assert "step" in titles and "val_loss" in titles, titles
    chart.locator("g.mark-symbol path").nth(2).hover()
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible")
    assert "0.55" in tooltip.inner_text() and "val_loss" in tooltip.inner_text()
    page.mouse.move(5, 5)

    # artifacts: previews by type
    artifacts = view.locator("section[aria-label='Artifacts']")
    image = artifacts.locator("[data-artifact='loss_curve.png'] img")
    image.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 100", arg=image.element_handle()
    )
    table = artifacts.locator("[data-artifact='scores.csv'] table")
    table.wait_for()
    assert table.locator("thead th").all_inner_texts() == ["account_id", "score"]
    assert table.locator("tbody tr").first.locator("td").all_inner_texts() == ["1", "0.0"]
    text = artifacts.locator("[data-artifact='summary.json'] pre")
    text.wait_for()
    assert json.loads(text.inner_text()) == {"best_step": 4, "val_loss": 0.45}
    other = artifacts.locator("[data-artifact='weights.bin']")
    assert "2.0 KB" in other.inner_text() and "No preview" in other.inner_text()
    with page.expect_download() as download:
        other.get_by_role("link", name="Download weights.bin").click()
    assert open(download.value.path(), "rb").read() == bytes(range(256)) * 8

    # the notebook's HTML is shown, its script neither kept nor run
    output.locator("b.from-notebook", has_text="bold output").wait_for()
    assert output.locator("script").count() == 0
    assert page.title() != "pwned"

    # papermill's "An Exception was encountered" banner cells are left out (the page
    # shows the error above and marks its cell)
    assert output.get_by_text("An Exception was encountered").count() == 0
    assert_readable(view, "run page")
    view.locator("header.jp-mlinfra-PageHeader h1").scroll_into_view_if_needed()
    screenshot(page, "run-page-failed-light")
    view.locator("section[aria-label='Artifacts'] > h2").evaluate(
        "node => node.scrollIntoView({block: 'start'})"
    )
    screenshot(page, "run-page-artifacts-light")

    # "cell 3" scrolls the rendered output to the failing cell and flashes it
    output.evaluate("node => { node.scrollTop = 0; }")
    link.click()
    page.wait_for_function(
        """([root, cell]) => {
            const r = root.getBoundingClientRect(), c = cell.getBoundingClientRect();
            return c.top >= r.top - 1 && c.bottom <= r.bottom + 1
              && cell.classList.contains('jp-mlinfra-OutputCell-flash');
        }""",
        arg=[output.element_handle(), failing.element_handle()],
    )
    screenshot(page, "run-page-cell-link-light")
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)


def test_run_page_in_the_dark_theme(wide, lab_server, failed_run, console_messages):
    if "id" not in failed_run:
        pytest.skip("needs the failed run of the test above")
    page = wide
    _set_theme(lab_server, "JupyterLab Dark")
    try:
        open_lab(page)
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        view = _open_run(page, failed_run["id"])
        output = view.locator("[aria-label='Output notebook (read-only)']")
        output.locator(".jp-OutputArea-output", has_text="saved 4 artifacts").wait_for(
            timeout=30_000
        )
        view.locator("figure[aria-label='val_loss over steps'] svg.marks").wait_for()
        view.locator("[data-artifact='scores.csv'] table").wait_for()
        view.locator("header.jp-mlinfra-PageHeader h1").scroll_into_view_if_needed()
        screenshot(page, "run-page-failed-dark")
        view.locator("section[aria-label='Artifacts'] > h2").evaluate(
            "node => node.scrollIntoView({block: 'start'})"
        )
        screenshot(page, "run-page-artifacts-dark")
        assert_readable(view, "run page (dark)")
        view.locator("[data-mlinfra-link='failed-cell']").click()
        view.locator("[data-execution-count='3'].jp-mlinfra-OutputCell-flash").wait_for()
        screenshot(page, "run-page-cell-link-dark")
        assert_readable(output, "output notebook (dark)")
    finally:
        _set_theme(lab_server, "JupyterLab Light")
    assert not mlinfra_errors(console_messages), mlinfra_errors(console_messages)
