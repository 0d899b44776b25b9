"""The ML Infra side panel in a real JupyterLab, driven in headless Chromium.

Everything checked is text that came from the server: the header against GET
/mlinfra/api/health, each tab against ``health["capabilities"][<tab>]``.
Screenshots: test-artifacts/ui/panel-*.png.
"""

from __future__ import annotations

import json
import re

import pytest
from jupyterlab_page import (
    TAB_IDS,
    contrast,
    open_lab,
    open_mlinfra_panel,
    open_tab,
    run_command,
    screenshot,
)

pytestmark = pytest.mark.browser


def _extension_errors(console_messages):
    return [
        m for m in console_messages if m.kind in ("error", "pageerror") and m.mentions("mlinfra")
    ]


def _check_tab_shows_status(body, name: str, status: dict, version: str) -> None:
    view = body.locator(f"[data-capability-status='{name}']")
    view.wait_for(state="attached")
    if not view.is_visible():  # a tab may keep it in a collapsed "Capability status" section
        body.locator(f"details:has([data-capability-status='{name}']) > summary").click()
    view.wait_for(state="visible")
    assert view.get_attribute("data-available") == ("true" if status["available"] else "false")
    text = body.inner_text()
    assert f"available: {'true' if status['available'] else 'false'}" in text
    if status.get("message"):
        assert status["message"] in text  # e.g. "jobs is not part of jupyter_mlinfra 0.1.0 yet"
    for key, value in status.items():
        if key in ("available", "message"):
            continue
        row = view.locator(f"tr[data-key='{key}']")
        assert row.count() == 1, f"{name}: status key {key!r} from the server is not shown"
        if isinstance(value, str):
            assert row.locator("td").inner_text() == value
    if not status["available"]:
        assert version in status["message"]


def test_panel_shows_server_status_in_header_and_every_tab(page, lab_server, console_messages):
    health = lab_server.api("health")
    assert (health["catalog"]["backend"], health["artifacts"]["backend"]) == ("sqlite", "local")

    open_lab(page)
    run_command(page, "ML Infra: Open panel")  # the palette command opens the panel
    panel = open_mlinfra_panel(page)

    header = panel.locator(".jp-mlinfra-Header")
    assert header.locator("[data-mlinfra-field='version']").inner_text() == health["version"]
    assert header.locator("[data-mlinfra-field='catalog-backend']").inner_text() == "sqlite"
    assert header.locator("[data-mlinfra-field='artifact-backend']").inner_text() == "local"
    # The owner identity is per browser session (token login): ask as this browser.
    own = page.context.request.get(lab_server.url + "mlinfra/api/health").json()
    assert header.locator("[data-mlinfra-field='user']").inner_text() == own["user"]
    # The full catalog URL and artifact root are one hover away, never a secret.
    assert str(lab_server.home) in header.locator("div[title^='catalog']").get_attribute("title")
    assert panel.locator(".jp-mlinfra-ErrorBanner").count() == 0

    labels = panel.locator("[role='tab']").all_inner_texts()
    assert labels == list(TAB_IDS.values())
    screenshot(page, "panel-shell")

    for name, label in TAB_IDS.items():
        body = open_tab(page, label)
        _check_tab_shows_status(body, name, health["capabilities"][name], health["version"])
        # Only the selected tab is shown.
        assert panel.locator("[role='tabpanel']:visible").count() == 1
        screenshot(page, f"panel-shell-{name}", locator=panel)

    # Readable text in the light theme (WCAG AA: 4.5:1).
    for locator in (
        header.locator("[data-mlinfra-field='version']"),
        panel.locator("[role='tab'][aria-selected='true']"),
        panel.locator("[role='tab'][aria-selected='false']").first,
        panel.locator("[data-mlinfra-tab='features'] .jp-mlinfra-Tab-intro"),
    ):
        assert contrast(locator) >= 4.5, locator

    # Nothing clipped: the four tabs fit (or wrap) inside the default side panel width.
    box = panel.bounding_box()
    for tab in panel.locator("[role='tab']").all():
        tab_box = tab.bounding_box()
        assert (
            tab_box["x"] >= box["x"]
            and tab_box["x"] + tab_box["width"] <= box["x"] + box["width"] + 0.5
        )
        assert tab.evaluate("el => el.scrollWidth <= el.clientWidth")

    assert not _extension_errors(console_messages), _extension_errors(console_messages)


def test_panel_refetches_when_shown_and_every_ten_seconds(page, lab_server):
    page.clock.install()
    open_lab(page)
    open_mlinfra_panel(page)
    sidebar_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='mlinfra-panel']")

    health_requests = []
    page.on("request", lambda r: "/mlinfra/api/health" in r.url and health_requests.append(r))

    sidebar_tab.click()  # hide
    page.locator("#mlinfra-panel").wait_for(state="hidden")
    page.clock.run_for(25_000)  # hidden: no polling
    assert health_requests == []
    with page.expect_response(re.compile(r"/mlinfra/api/health")):
        sidebar_tab.click()  # show again: health is fetched at once
    # The next tick is scheduled once that answer is in (the refresh button is enabled again).
    page.get_by_role("button", name="Refresh status").wait_for(state="visible")
    page.wait_for_function(
        "() => !document.querySelector("
        "'#mlinfra-panel button[aria-label=\"Refresh status\"]').disabled"
    )
    with page.expect_request(re.compile(r"/mlinfra/api/health")):
        page.clock.run_for(10_500)


def test_error_line_when_server_fails_or_is_unreachable(page, lab_server):
    open_lab(page)
    panel = open_mlinfra_panel(page)
    banner = panel.locator(".jp-mlinfra-ErrorBanner")
    refresh = panel.get_by_role("button", name="Refresh status")

    # The server's own {"error": {"code", "message"}} body becomes the message.
    page.route(
        re.compile(r"/mlinfra/api/health"),
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"error": {"code": "catalog_unavailable", "message": "the catalog is locked"}}',
        ),
    )
    refresh.click()
    banner.wait_for(state="visible")
    assert "the catalog is locked" in banner.inner_text()
    assert "catalog_unavailable" in banner.inner_text()
    # The last known status stays on screen under the error.
    assert panel.locator("[data-mlinfra-field='version']").is_visible()

    page.unroute(re.compile(r"/mlinfra/api/health"))
    page.route(re.compile(r"/mlinfra/api/health"), lambda route: route.abort())
    refresh.click()
    page.wait_for_function(
        "() => document.querySelector('#mlinfra-panel .jp-mlinfra-ErrorBanner')"
        "?.textContent.includes('Server unreachable')"
    )
    screenshot(page, "panel-shell-unreachable", locator=panel)

    page.unroute(re.compile(r"/mlinfra/api/health"))
    banner.get_by_role("button", name="Retry").click()
    banner.wait_for(state="detached")


def _set_theme(lab_server, theme: str) -> None:
    status, body = lab_server.request(
        "PUT",
        "lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": theme})},
    )
    assert status == 204, body


def test_panel_is_readable_in_the_dark_theme(page, lab_server, console_messages):
    _set_theme(lab_server, "JupyterLab Dark")
    try:
        open_lab(page)
        page.wait_for_function(
            "() => document.body.dataset.jpThemeName === 'JupyterLab Dark'"
            " && document.body.dataset.jpThemeLight === 'false'"
        )
        panel = open_mlinfra_panel(page)
        open_tab(page, "Jobs")
        screenshot(page, "panel-shell-dark", locator=panel)
        for locator in (
            panel.locator("[data-mlinfra-field='version']"),
            panel.locator("[role='tab'][aria-selected='true']"),
            panel.locator("[role='tab'][aria-selected='false']").first,
            panel.locator("[data-mlinfra-tab='jobs'] .jp-mlinfra-Tab-intro"),
        ):
            assert contrast(locator) >= 4.5, locator
        for name in ("models", "features"):  # the shared searchable list, in the dark
            heading = open_tab(page, name).locator("section h3", has_text="(").first
            heading.wait_for(state="visible")  # the list has loaded: "Models (2)"
            assert contrast(heading) >= 4.5, name
            screenshot(page, f"panel-shell-dark-{name}", locator=panel)
    finally:
        _set_theme(lab_server, "JupyterLab Light")
    assert not _extension_errors(console_messages)
