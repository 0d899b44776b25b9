"""The ML Infra side panel at 300 px (JupyterLab's left panel dragged narrow), with long
names in every list: no word is broken in the middle (long names end with an ellipsis and
keep their full text in a tooltip), the key columns of each list lie inside the visible
width, and the lists need no horizontal scroll. Screenshots: test-artifacts/ui/sidebar-300-*.png.
"""

from __future__ import annotations

import warnings

import nbformat
import numpy as np
import pandas as pd
import pytest
from jupyterlab_page import (
    PANEL_ID,
    open_lab,
    open_mlinfra_panel,
    open_tab,
    screenshot,
    words_broken_mid_word,
)
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser

WIDTH = 300
NOTEBOOK = "customer_churn_training_pipeline.ipynb"
JOB = "nightly_customer_churn_retraining"
MODEL = "customer_lifetime_value_gradient_boosting"
VIEW = "account_usage_rolling_statistics"
# Inside the side panel every element that holds text is checked, not only cells and headings.
SIDEBAR_TEXT = "td, th, h1, h2, h3, h4, p, li, button, a, span, div, label, dd, dt, strong, code"

# Per tab: the list's table and the columns that must be fully visible at 300 px.
KEY_COLUMNS = {
    "Jobs": [
        ("table[aria-label='Runs']", ["state", "what", "created"]),
        ("table[aria-label='Jobs']", ["name", "actions"]),
    ],
    "Models": [("table[aria-label='Models']", ["name", "version"])],
    "Features": [("table[aria-label='Feature views']", ["name", "owner"])],
    "Provenance": [("table[aria-label='Execution timeline']", ["cell", "status", "names"])],
}


@pytest.fixture(scope="module")
def long_names(lab_server):
    """A job with a run, a model and a feature view, all with long snake_case names."""
    from sklearn.linear_model import LogisticRegression

    nb = new_notebook(
        cells=[
            new_code_cell("%load_ext jupyter_mlinfra"),
            new_code_cell(
                "monthly_active_minutes_per_account = 1234\nregion = 'eu'",
                metadata={"tags": ["parameters"]},
            ),
            new_code_cell(
                "rolling_average_of_minutes = monthly_active_minutes_per_account / 30\n"
                "print(rolling_average_of_minutes)"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nbformat.write(nb, lab_server.root_dir / NOTEBOOK)
    lab_server.api(
        "jobs",
        "POST",
        {"name": JOB, "notebook": NOTEBOOK, "schedule": "30 7 * * 1-5", "timezone": "Europe/Paris"},
    )
    lab_server.api(f"jobs/{JOB}/run", "POST", {})

    ws = lab_server.workspace("alice")
    features, models = ws.service("features"), ws.service("models")
    features.register_entity("customer_account", ["customer_account_id"], "an account")
    rng = np.random.default_rng(3)
    now = pd.Timestamp.now(tz="UTC").floor("min")
    events = pd.DataFrame(
        {
            "customer_account_id": rng.integers(0, 20, 100),
            "event_timestamp": now - pd.to_timedelta(rng.integers(60, 86400, 100), unit="s"),
            "rolling_minutes_of_use": rng.gamma(2.0, 10.0, 100).round(1),
            "rolling_sessions_per_week": rng.integers(0, 30, 100),
        }
    )
    features.register_view(
        VIEW,
        entities="customer_account",
        source=events,
        ttl="7d",
        description="rolling usage per account",
        visibility="public",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = pd.DataFrame({"rolling_minutes_of_use": [1.0, 2.0, 3.0, 4.0]})
        models.register(
            MODEL,
            LogisticRegression().fit(x, [0, 1, 0, 1]),
            metrics={"validation_mean_absolute_error": 0.4242, "auc": 0.7},
        )
    models.set_alias(MODEL, "production_candidate", 1)
    yield
    features.close()
    ws.close()


def _set_left_panel_width(page, width: int) -> None:
    """Drag the handle between the left panel and the main area until the panel is
    ``width`` px wide (as a user does)."""
    stack = page.locator("#jp-left-stack")
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    for _ in range(3):
        box, current = handle.bounding_box(), stack.bounding_box()
        if abs(current["width"] - width) < 1:
            return
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + width - current["width"], y, steps=5)
        page.mouse.up()
        page.wait_for_timeout(100)  # the split panel lays out on the next frame
    assert abs(stack.bounding_box()["width"] - width) < 1, stack.bounding_box()


def _columns_outside(page, table: str, columns: list[str]) -> list[str]:
    """Key columns whose cells (or header) reach past the panel's right edge, or are
    hidden; plus "scroll" when the table is wider than its box."""
    return page.locator(f"#{PANEL_ID} {table}").evaluate(
        """(table, columns) => {
      const panel = document.getElementById('mlinfra-panel').getBoundingClientRect();
      const out = [];
      const scroller = table.parentElement;
      if (scroller.scrollWidth > scroller.clientWidth + 1) out.push('scroll');
      for (const id of columns) {
        const cells = table.querySelectorAll(`td[data-column='${id}']`);
        if (!cells.length) { out.push(`${id}: no cells`); continue; }
        for (const cell of cells) {
          const r = cell.getBoundingClientRect();
          if (r.width < 1 || r.right > panel.right + 0.5 || r.left < panel.left - 0.5) {
            out.push(`${id}: ${Math.round(r.left)}..${Math.round(r.right)} of ` +
                     `${Math.round(panel.left)}..${Math.round(panel.right)}`);
            break;
          }
        }
      }
      return out;
    }""",
        columns,
    )


def _truncated_without_tooltip(locator) -> list[str]:
    """Texts cut with an ellipsis (scrollWidth > clientWidth) whose full text is in no
    title attribute of the element or an ancestor."""
    return locator.evaluate(r"""root => {
      const out = [];
      for (const el of root.querySelectorAll('*')) {
        if (!el.offsetParent || el.scrollWidth <= el.clientWidth + 1) continue;
        if (getComputedStyle(el).textOverflow !== 'ellipsis') continue;
        const squash = t => t.replace(/\s+/g, ' ').trim();
        const text = squash(el.textContent);
        if (!text) continue;
        const titled = el.closest('[title]');
        if (!titled || !squash(titled.getAttribute('title')).includes(text)) out.push(text);
      }
      return out;
    }""")


def _check(page, name: str, body) -> list[str]:
    """What is wrong with the tab ``name`` at 300 px ([] when nothing)."""
    problems = []
    broken = words_broken_mid_word(body, SIDEBAR_TEXT)
    if broken:
        problems.append(f"{name}: words broken mid-word: {broken[:8]}")
    for table, columns in KEY_COLUMNS[name]:
        page.locator(f"#{PANEL_ID} {table} tbody tr").first.wait_for()
        label = table.split("'")[1]
        screenshot(
            page,
            f"sidebar-300-{name}-{label}",
            page.locator(
                f"#{PANEL_ID} section:has(> * {table}), #{PANEL_ID} section:has({table})"
            ).last,
        )
        outside = _columns_outside(page, table, columns)
        if outside:
            problems.append(f"{name}, {table}: key columns cut off or scrolled: {outside}")
    untitled = _truncated_without_tooltip(body)
    if untitled:
        problems.append(f"{name}: names cut without a tooltip: {untitled[:5]}")
    return problems


def _run_all_cells(page) -> None:
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    cells.first.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => /\\| Idle/.test(document.querySelector('#jp-bottom-panel, .jp-StatusBar-Widget')"
        "?.innerText || '')",
        timeout=60_000,
    )
    for index in range(cells.count()):
        cells.nth(index).locator(".jp-InputArea-prompt").click()
        page.locator(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar "
            "[data-command='notebook:run-cell-and-select-next']"
        ).click()
        page.wait_for_function(
            """i => {
              const c = document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[i];
              const p = c && c.querySelector('.jp-InputArea-prompt');
              return p && /\\[\\d+\\]/.test(p.textContent);
            }""",
            arg=index,
            timeout=60_000,
        )


def test_every_sidebar_list_is_readable_at_300px(page, lab_server, long_names):
    open_lab(page, NOTEBOOK)
    _run_all_cells(page)
    open_mlinfra_panel(page)
    _set_left_panel_width(page, WIDTH)

    provenance = open_tab(page, "Provenance")
    provenance.locator("[data-provenance-section='timeline'] tbody tr").nth(1).wait_for(
        timeout=30_000
    )
    problems = _check(page, "Provenance", provenance)

    jobs = open_tab(page, "Jobs")
    jobs.locator("section[aria-label='Runs'] [data-state='succeeded']").first.wait_for(
        timeout=120_000
    )
    jobs.locator("section[aria-label='Jobs'] tbody tr").first.wait_for()
    problems += _check(page, "Jobs", jobs)

    models = open_tab(page, "Models")
    models.locator(f"tr[data-row-key='{MODEL}']").wait_for()
    problems += _check(page, "Models", models)

    features = open_tab(page, "Features")
    features.locator(f"tr[data-row-key='{VIEW}']").wait_for()
    problems += _check(page, "Features", features)
    assert not problems, f"at {WIDTH} px:\n" + "\n".join(problems)
