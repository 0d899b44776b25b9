"""The Models tab of the ML Infra panel in a real JupyterLab (headless Chromium): search by
name and metric threshold, a model's aliases (moved from the panel; a protected one refused),
versions, the metric plot across versions, a version's lineage, figures and artifacts.
Screenshots: test-artifacts/ui/models-*.png."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from jupyterlab_page import main_page, open_lab, open_mlinfra_panel, open_tab, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def registered(lab_server):
    """``churn`` (3 versions by alice, one dirty, a figure, @production protected on v2,
    @staging on v1) and ``fraud`` (1 version by bob), in the server's catalog."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.models.capture import SessionContext
    from jupyter_mlinfra.core.models.service import DirtyModelWarning

    alice_ws, bob_ws = lab_server.workspace("alice"), lab_server.workspace("bob")
    alice, bob = alice_ws.service("models"), bob_ws.service("models")
    frame = pd.DataFrame(
        {"tenure": [1.0, 5.0, 9.0, 2.0, 7.0, 3.0], "spend": [9.0, 3.0, 1.0, 8.0, 2.0, 7.0]}
    )
    frame.attrs["mlinfra_lineage"] = {
        "features": ["spend@1:amount", "spend@1:amount_log"],
        "views": [{"name": "spend", "version": 1}],
    }
    y = [1, 0, 0, 1, 0, 1]
    history = ["import pandas as pd", "frame = load()", "model = fit(frame)"]
    for i, (C, auc) in enumerate([(0.1, 0.81), (1.0, 0.86), (10.0, 0.93)], start=1):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([1, 2, 3], [0.5, 0.7, auc])
        ax.set_title(f"learning curve {i}")
        context = SessionContext(history=history, notebook_path="notebooks/churn.ipynb")
        if i == 3:
            context.replay = {
                "cells": [{"cell_id": "fit", "execution_count": 9, "source": "model = fit(frame)"}],
                "hazards": [
                    {"kind": "stale_direct", "message": "cell fit read `frame`, changed after"}
                ],
            }
        # v3 is registered from a stale notebook state: the store must say so. (Other
        # warnings, e.g. a feature view missing from the shared lab catalog, may come too.)
        expect = pytest.warns(DirtyModelWarning) if i == 3 else warnings.catch_warnings()
        with expect:
            if i != 3:
                warnings.simplefilter("ignore")
            alice.register(
                "churn",
                LogisticRegression(C=C).fit(frame, y),
                training_data=frame,
                metrics={"auc": auc, "logloss": 0.5 / i},
                figures=[fig],
                tags={"team": "growth"},
                context=context,
                description="who is about to leave",
            )
        plt.close(fig)
    alice.set_alias("churn", "staging", 1)
    alice.set_alias("churn", "production", 2, protected=True)
    # fraud: its cells re-run anywhere (the panel reproduces it)
    cells = [
        "from sklearn.dummy import DummyClassifier\nfrom jupyter_mlinfra import models",
        "m = DummyClassifier(strategy='most_frequent').fit([[0], [1], [2]], [0, 1, 1])\n"
        "score = float(m.score([[0], [1], [2]], [0, 1, 1]))",
        "models.register('fraud', m, metrics={'auc': 0.77, 'score': score}, figures=[])",
    ]
    from sklearn.dummy import DummyClassifier

    bob.register(
        "fraud",
        DummyClassifier(strategy="most_frequent").fit([[0], [1], [2]], [0, 1, 1]),
        metrics={"auc": 0.77, "score": 2 / 3},
        figures=[],
        context=SessionContext(history=cells),
    )
    yield
    alice_ws.close()
    bob_ws.close()


def test_models_tab_search_details_plot_and_aliases(page, lab_server, registered, console_messages):
    open_lab(page)
    open_mlinfra_panel(page)
    body = open_tab(page, "models")
    table = body.locator("table[aria-label='Models']")
    table.locator("tbody tr").first.wait_for(state="visible")
    names = table.locator("td[data-column='name'] .jp-mlinfra-Name").all_inner_texts()
    # (other browser tests of this session may have registered models of their own)
    assert {"churn", "fraud"} <= set(names), names
    churn_row = table.locator("tr[data-row-key='churn']")
    assert "@production v2" in churn_row.inner_text()
    assert "v3" in churn_row.inner_text()
    screenshot(page, "models-list", page.locator("#jp-left-stack"))

    body.get_by_label("Metric threshold").fill("auc>=0.9")
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"table[aria-label='Models'] "
        "td[data-column='name'] .jp-mlinfra-Name\")].map(e => e.textContent)"
        ".join(',') === 'churn'"
    )
    body.get_by_label("Metric threshold").fill("")
    body.get_by_label("Search models").fill("fra")
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"table[aria-label='Models'] "
        "td[data-column='name'] .jp-mlinfra-Name\")].map(e => e.textContent)"
        ".join(',') === 'fraud'"
    )
    body.get_by_label("Search models").fill("")
    churn_row.wait_for(state="visible")

    # a click opens the model's page in the main area
    churn_row.click()
    details = main_page(page, "model", "churn").locator("section[data-model='churn']")
    versions = details.locator("table[aria-label='Versions']")
    versions.locator("tbody tr").first.wait_for(state="visible")
    assert versions.locator("tbody tr").count() == 3
    assert "dirty" in versions.locator("tr[data-row-key='3']").inner_text()
    aliases = details.locator("table[aria-label='Aliases']").inner_text()
    assert "@production" in aliases and "protected" in aliases and "@staging" in aliases
    # the metric chart: Vega-Lite (SVG) with the metric's name verbatim as the axis title,
    # a y axis that stays inside [0, 1] for a [0, 1] metric, one point per version
    chart = details.locator("figure[aria-label='auc across versions']")
    chart.wait_for(state="visible")
    assert chart.get_attribute("data-values") == "0.81,0.86,0.93"
    svg = chart.locator("svg.marks")
    svg.wait_for(state="visible")
    chart_text = svg.text_content()
    assert "auc" in chart_text and "version" in chart_text and "1.05" not in chart_text
    assert chart.locator("path.mark-symbol, g.mark-symbol path").count() == 3
    details.get_by_label("Plotted metric").select_option("logloss")
    details.locator("figure[aria-label='logloss across versions'] svg.marks").wait_for(
        state="visible"
    )
    details.get_by_label("Plotted metric").select_option("auc")

    # compare two versions (the store's compare): metrics with deltas, hyper-parameters
    compare = details.locator("[aria-label='Compare versions']")
    compare.get_by_label("Compare version A").select_option("1")
    compare.get_by_label("Compare version B").select_option("3")
    compare.get_by_role("button", name="Compare").click()
    compared = compare.locator("table[aria-label='Compared metrics']")
    compared.wait_for(state="visible")
    auc_row = compared.locator("tr[data-row-key='auc']").inner_text()
    assert "0.81" in auc_row and "0.93" in auc_row and "+0.12" in auc_row, auc_row
    params = compare.locator("table[aria-label='Compared hyper-parameters']").inner_text()
    assert "C" in params and "10" in params
    compare.scroll_into_view_if_needed()
    screenshot(page, "models-compare")

    # version 3 (the newest) is shown: lineage, hyper-parameters, dependencies, the figure
    version = details.locator("div[data-version='3']")
    lineage = version.locator("table[aria-label='Lineage']")
    lineage.wait_for(state="visible")
    text = lineage.inner_text()
    assert "notebooks/churn.ipynb" in text and "spend@1:amount" in text
    assert "LogisticRegression" in text
    assert "may not reproduce" in version.inner_text()
    assert "10" in version.locator("table[aria-label='Hyper-parameters']").inner_text()
    image = version.locator("figure img")
    image.wait_for(state="visible")
    page.wait_for_function(
        "() => { const i = document.querySelector(\"div[data-version='3'] figure img\");"
        " return i && i.complete && i.naturalWidth > 100; }"
    )
    artifacts = version.locator("table[aria-label='Artifacts']").inner_text()
    assert "model.joblib" in artifacts and "requirements.txt" in artifacts
    chart.scroll_into_view_if_needed()
    screenshot(page, "models-details")
    image.scroll_into_view_if_needed()
    screenshot(page, "models-version-lineage")

    # another version: click its row
    versions.locator("tr[data-row-key='1']").click()
    details.locator("div[data-version='1'] table[aria-label='Lineage']").wait_for(state="visible")

    # a protected alias does not move for someone else; an unprotected one does
    form = details.locator("form[aria-label='Move an alias']")
    form.get_by_label("Alias name").fill("production")
    form.get_by_label("Alias target version").select_option("3")
    form.get_by_role("button", name="Move alias").click()
    # a protected alias asks first (the server then refuses someone else)
    confirm = page.locator(".jp-Dialog", has_text="Move protected alias @production?")
    confirm.wait_for(state="visible")
    screenshot(page, "models-protected-alias-confirm")
    confirm.get_by_role("button", name="Move").click()
    details.get_by_text("is protected").wait_for(state="visible")
    form.get_by_label("Alias name").fill("staging")
    form.get_by_role("button", name="Move alias").click()
    page.wait_for_function(
        "() => document.querySelector(\"section[data-model='churn'] table[aria-label='Versions']"
        " tr[data-row-key='3']\")?.textContent.includes('@staging')"
    )
    described = lab_server.api("models/churn")
    assert {a["alias"]: a["version"] for a in described["aliases"]} == {
        "production": 2,
        "staging": 3,
    }
    form.scroll_into_view_if_needed()
    screenshot(page, "models-aliases")

    # reproduce fraud:1 from the panel: its cells re-run in a fresh kernel
    details.get_by_label("Close details").click()
    table.locator("tr[data-row-key='fraud']").click()
    fraud = main_page(page, "model", "fraud").locator(
        "section[data-model='fraud'] div[data-version='1']"
    )
    fraud.locator("table[aria-label='Lineage']").wait_for(state="visible")
    fraud.get_by_role("button", name="reproduce").click()
    outcome = fraud.locator("[aria-label='Reproduction']")
    outcome.wait_for(state="visible", timeout=180_000)
    text = outcome.inner_text()
    assert "reproduced" in text and "not reproduced" not in text, text
    assert "replay script" in text
    metrics = outcome.locator("table[aria-label='Reproduced metrics']").inner_text()
    assert "0.77 → 0.77" in metrics and "0.6667 → 0.6667" in metrics
    outcome.scroll_into_view_if_needed()
    screenshot(page, "models-reproduce")

    errors = [
        m
        for m in console_messages
        if m.kind in ("error", "pageerror")
        and m.mentions("mlinfra")
        and "aliases/production" not in (m.url or "")
    ]  # the refused move: expected
    assert not errors, errors
