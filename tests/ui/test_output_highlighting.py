"""The run page's rendered output notebook colours its code cells with JupyterLab's own
highlighter (the notebook's language, the theme's editor colours), readable (WCAG AA) in the
light and the dark theme (headless Chromium, 1440x900). Screenshots:
test-artifacts/ui/run-output-highlighted*.png."""

from __future__ import annotations

import json
import time

import nbformat
import pytest
from jupyterlab_page import (
    low_contrast_texts,
    main_page,
    open_lab,
    open_mlinfra_panel,
    open_tab,
    screenshot,
)
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser


SOURCE = (
    "import math  # the standard library\n"
    "def area(radius: float) -> float:\n"
    '    """A circle\'s area."""\n'
    "    return math.pi * radius ** 2\n"
    "for r in [1, 2.5, 10]:\n"
    "    print(f'{r}: {area(r):.2f}', True, None)"
)


@pytest.fixture(scope="module")
def finished_run(lab_server) -> str:
    nb = new_notebook(cells=[new_code_cell(SOURCE)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py 3"}
    nbformat.write(nb, lab_server.root_dir / "highlighted.ipynb")
    run = lab_server.api("runs", "POST", {"notebook": "highlighted.ipynb"})
    deadline = time.monotonic() + 180
    while (state := lab_server.api(f"runs/{run['id']}")["state"]) not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state == "succeeded", state
    return run["id"]


def _set_theme(lab_server, theme: str) -> None:
    status, body = lab_server.request(
        "PUT",
        "lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": theme})},
    )
    assert status == 204, body


def _highlighted_source(page, run_id: str):
    open_mlinfra_panel(page)
    open_tab(page, "jobs").locator(
        f"section[aria-label='Runs'] tr[data-row-key='{run_id}']"
    ).click()
    view = main_page(page, "run", run_id)
    source = view.locator(
        "[aria-label='Output notebook (read-only)'] pre[data-language='python'][data-highlighted]"
    )
    source.wait_for(timeout=60_000)
    return view, source


def _token_colours(source) -> dict[str, str]:
    """The colour each token of interest is drawn in, and the plain text's."""
    return source.evaluate(
        """pre => {
          const colour = el => getComputedStyle(el).color;
          const out = {plain: colour(pre)};
          for (const span of pre.querySelectorAll('span')) {
            const word = span.textContent.trim();
            if (['import', 'def', 'return', 'for', '# the standard library', "'{r}: '",
                 '10', 'True'].includes(word) && !(word in out)) {
              out[word] = colour(span);
            }
          }
          return out;
        }"""
    )


def _check(source, theme: str) -> None:
    assert source.inner_text() == SOURCE  # the text unchanged, only coloured
    colours = _token_colours(source)
    for word in ("import", "def", "return", "# the standard library", "10"):
        assert word in colours, f"{theme}: {word!r} is not a token: {colours}"
        assert colours[word] != colours["plain"], f"{theme}: {word!r} not coloured: {colours}"
    # keywords, comments and numbers are told apart
    assert len({colours["import"], colours["# the standard library"], colours["10"]}) == 3
    failures = low_contrast_texts(source)
    assert not failures, f"{theme}: code tokens below 4.5:1 contrast: {failures[:8]}"


def test_code_cells_coloured_by_jupyterlabs_highlighter(
    wide, lab_server, finished_run, console_messages
):
    page = wide
    open_lab(page)
    view, source = _highlighted_source(page, finished_run)
    _check(source, "light")
    source.scroll_into_view_if_needed()
    screenshot(page, "run-output-highlighted")
    errors = [
        m for m in console_messages if m.kind in ("error", "pageerror") and m.mentions("mlinfra")
    ]
    assert not errors, errors


def test_code_cells_coloured_in_the_dark_theme(wide, lab_server, finished_run):
    page = wide
    _set_theme(lab_server, "JupyterLab Dark")
    try:
        open_lab(page)
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        view, source = _highlighted_source(page, finished_run)
        _check(source, "dark")
        source.scroll_into_view_if_needed()
        screenshot(page, "run-output-highlighted-dark")
    finally:
        _set_theme(lab_server, "JupyterLab Light")
