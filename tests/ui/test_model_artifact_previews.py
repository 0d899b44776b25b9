"""A model version's artifacts previewed on the model page (headless Chromium, 1440x900,
light and dark theme) by the same component as a run's page: the figure as an image, a CSV
saved with the model as a table of its first rows, a JSON and the replay script as their
first kilobyte; readable (WCAG AA) in both themes. Screenshots:
test-artifacts/ui/model-artifacts-*.png."""

from __future__ import annotations

import json
import warnings

import pytest
from jupyterlab_page import (
    assert_readable,
    main_page,
    open_lab,
    open_mlinfra_panel,
    open_tab,
    screenshot,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def model_with_artifacts(lab_server, tmp_path_factory):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LinearRegression

    folder = tmp_path_factory.mktemp("model-files")
    rows = "".join(f"{i},{i / 40:.3f}\n" for i in range(1, 41))
    (folder / "scores.csv").write_text("account_id,score\n" + rows)
    (folder / "summary.json").write_text(json.dumps({"best_step": 4, "val_loss": 0.45}))
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot([0, 1, 2, 3, 4], [0.92, 0.71, 0.55, 0.48, 0.45])
    ax.set_title("loss")
    ws = lab_server.workspace(lab_server.api("health")["user"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ws.service("models").register(
                "ap_model",
                LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0]),
                metrics={"rmse": 0.1},
                figures=[fig],
                files=[folder / "scores.csv", folder / "summary.json"],
            )
    finally:
        ws.close()
        plt.close(fig)
    return "ap_model"


def _set_theme(lab_server, theme: str) -> None:
    status, body = lab_server.request(
        "PUT",
        "lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": theme})},
    )
    assert status == 204, body


def _open_previews(page, name: str):
    open_mlinfra_panel(page)
    open_tab(page, "models").locator(
        f"table[aria-label='Models'] tr[data-row-key='{name}']"
    ).click()
    model = main_page(page, "model", name)
    previews = model.locator("section[aria-label='Artifact previews']")
    previews.wait_for()
    return model, previews


def _check_previews(previews) -> None:
    table = previews.locator("[data-artifact='files/scores.csv'] table")
    table.wait_for()
    assert table.locator("th").all_inner_texts() == ["account_id", "score"]
    assert table.locator("tbody tr").count() == 8  # the first rows only
    assert table.locator("tbody tr").first.locator("td").all_inner_texts() == ["1", "0.025"]
    summary = previews.locator("[data-artifact='files/summary.json'] pre")
    summary.wait_for()
    assert '"best_step": 4' in summary.inner_text()
    figure = previews.locator("[data-preview='image'] img").first
    figure.wait_for()
    previews.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=figure.element_handle()
    )
    # what cannot be previewed (the pickled model) stays in the artifacts table, not a card
    assert previews.locator("[data-preview='other']").count() == 0
    download = previews.locator("[data-artifact='files/scores.csv'] a", has_text="Download")
    assert download.get_attribute("href").endswith("?download=1")


def test_model_page_previews_its_artifacts(
    wide, lab_server, model_with_artifacts, console_messages
):
    page = wide
    open_lab(page)
    model, previews = _open_previews(page, model_with_artifacts)
    _check_previews(previews)
    previews.scroll_into_view_if_needed()
    screenshot(page, "model-artifacts")
    assert_readable(model, "model page artifact previews")
    errors = [
        m for m in console_messages if m.kind in ("error", "pageerror") and m.mentions("mlinfra")
    ]
    assert not errors, errors


def test_model_artifact_previews_in_the_dark_theme(
    wide, lab_server, model_with_artifacts, console_messages
):
    page = wide
    _set_theme(lab_server, "JupyterLab Dark")
    try:
        open_lab(page)
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        model, previews = _open_previews(page, model_with_artifacts)
        _check_previews(previews)
        previews.scroll_into_view_if_needed()
        screenshot(page, "model-artifacts-dark")
        assert_readable(model, "model page artifact previews (dark)")
    finally:
        _set_theme(lab_server, "JupyterLab Light")
