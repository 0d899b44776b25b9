"""Driving JupyterLab and the ML Infra panel in a Playwright page (sync API).

Used by every browser test (tests/ui/test_*_panel.py)::

    from jupyterlab_page import open_lab, open_mlinfra_panel, open_tab, screenshot

    def test_jobs_panel(page, lab_server):
        open_lab(page)                       # or open_lab(page, "demo.ipynb")
        panel = open_mlinfra_panel(page)     # the #mlinfra-panel locator
        jobs = open_tab(page, "Jobs")        # the tab's [role=tabpanel] locator
        screenshot(page, "jobs-panel")       # test-artifacts/ui/jobs-panel.png

The page fixture (tests/ui/conftest.py) binds each page to the session's JupyterLab server.
"""

from __future__ import annotations

import re
import secrets
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"

PANEL_ID = "mlinfra-panel"
TAB_IDS = {"provenance": "Provenance", "jobs": "Jobs", "models": "Models", "features": "Features"}

# page -> the LabServer it talks to (set by the `page` fixture).
_SERVERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def bind_page(page, server) -> None:
    _SERVERS[page] = server


def server_of(page):
    try:
        return _SERVERS[page]
    except KeyError:
        raise RuntimeError(
            "this page is not bound to a JupyterLab server: use the `page` "
            "fixture of tests/ui/conftest.py"
        ) from None


def open_lab(page, path: str | None = None, *, timeout: float = 60_000):
    """Load JupyterLab (optionally with ``path``, relative to the server's root dir, open)
    in a fresh workspace (no layout left over from another test) and wait until the splash
    screen is gone."""
    server = server_of(page)
    target = f"{server.url}lab/workspaces/test-{secrets.token_hex(4)}"
    if path:
        target += "/tree/" + quote(path.lstrip("/"))
    page.goto(f"{target}?token={server.token}", wait_until="domcontentloaded")
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=timeout)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=timeout)
    return page


def open_mlinfra_panel(page, *, timeout: float = 20_000):
    """Show the ML Infra panel in the left area (if it is not shown already) and wait for
    the server's status in its header; returns the panel locator."""
    panel = page.locator(f"#{PANEL_ID}")
    sidebar_tab = page.locator(f".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='{PANEL_ID}']")
    for _ in range(3):  # a click while JupyterLab restores its layout can be undone by it
        if panel.is_visible():
            break
        sidebar_tab.click()
        try:
            panel.wait_for(state="visible", timeout=3_000)
        except Exception:
            continue
    panel.wait_for(state="visible", timeout=timeout)
    panel.locator("[data-mlinfra-field='version'], .jp-mlinfra-ErrorBanner").first.wait_for(
        state="visible", timeout=timeout
    )
    return panel


def open_tab(page, name: str, *, timeout: float = 10_000):
    """Select a tab of the ML Infra panel by label ("Jobs") or id ("jobs"); returns the
    tab's panel locator (``[data-mlinfra-tab=<id>]``)."""
    key = name.lower()
    if key not in TAB_IDS:
        raise ValueError(f"unknown tab {name!r}; tabs: {', '.join(TAB_IDS.values())}")
    panel = page.locator(f"#{PANEL_ID}")
    tab = panel.locator(f"[role='tab'][data-tab='{key}']")
    tab.click()
    page.wait_for_function(
        "sel => document.querySelector(sel)?.getAttribute('aria-selected') === 'true'",
        arg=f"#{PANEL_ID} [role='tab'][data-tab='{key}']",
        timeout=timeout,
    )
    body = panel.locator(f"[role='tabpanel'][data-mlinfra-tab='{key}']")
    body.wait_for(state="visible", timeout=timeout)
    return body


def main_page(page, kind: str, key: str | None = None, *, timeout: float = 20_000):
    """The shown main-area page of ``kind`` (``run``, ``job``, ``model``, ``feature-view``),
    optionally the one whose route key is ``key`` (a run id, a model name); waits for it."""
    selector = f"#jp-main-dock-panel .jp-mlinfra-Page[data-mlinfra-page='{kind}']"
    if key is not None:
        selector += f"[data-mlinfra-key='{key}']"
    locator = page.locator(f"{selector} >> visible=true")
    locator.wait_for(state="visible", timeout=timeout)
    return locator


def list_items(payload, legacy_key: str) -> list:
    """The rows of a REST list answer: the envelope's ``items`` (or the older key)."""
    if isinstance(payload, dict):
        return payload.get("items", payload.get(legacy_key, []))
    return payload


def screenshot(page, name: str, locator=None) -> Path:
    """Save a PNG under test-artifacts/ui/<name>.png (the whole page, or one element)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "screenshot"
    path = ARTIFACTS / f"{safe}.png"
    (locator or page).screenshot(path=str(path))
    return path


def run_command(page, label: str, *, timeout: float = 10_000) -> None:
    """Run a command from the command palette by its label (Ctrl+Shift+C, type, Enter)."""
    search = page.locator("#modal-command-palette input.lm-CommandPalette-input")
    for attempt in range(4):  # the shortcut is lost while JupyterLab is still settling focus
        if attempt < 3:
            page.locator("#jp-main-dock-panel").click(position={"x": 5, "y": 5})
            page.keyboard.press("Control+Shift+C")
        else:  # last resort: View > Activate Command Palette
            page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
            page.locator(".lm-Menu-item", has_text="Activate Command Palette").click()
        try:
            search.wait_for(state="visible", timeout=3_000)
            break
        except Exception:
            continue
    search.fill(label)
    page.locator(
        "#modal-command-palette .lm-CommandPalette-item.lm-mod-active", has_text=label
    ).wait_for(state="visible", timeout=timeout)
    search.press("Enter")
    search.wait_for(state="hidden", timeout=timeout)


# Colour and opacity of a text element, and the first opaque background behind it.
_COLORS_JS = """
el => {
  const parse = c => { const n = (c.match(/[\\d.]+/g) || []).map(Number); return c.startsWith('color(') ? [n[0] * 255, n[1] * 255, n[2] * 255].concat(n.slice(3)) : n; };
  const fg = parse(getComputedStyle(el).color);
  let opacity = 1;
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    opacity *= Number(getComputedStyle(n).opacity);
  }
  let node = el, bg = null;
  while (node && node.nodeType === 1) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.99)) { bg = c; break; }
    node = node.parentElement;
  }
  return {fg, opacity, bg: bg || [255, 255, 255, 1]};
}
"""


def contrast(locator) -> float:
    """WCAG contrast ratio of an element's text (its colour's alpha and the CSS opacity
    applied) against the background it is drawn on."""
    colors = locator.evaluate(_COLORS_JS)
    fg, bg = colors["fg"], colors["bg"][:3]
    alpha = (fg[3] if len(fg) > 3 else 1.0) * colors["opacity"]
    blended = [alpha * f + (1 - alpha) * b for f, b in zip(fg[:3], bg)]

    def luminance(rgb):
        def channel(v):
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(v) for v in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((luminance(blended), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# Every text element under a root whose contrast is below `minimum` (WCAG AA: 4.5).
_LOW_CONTRAST_JS = """
([root, minimum]) => {
  const parse = c => { const n = (c.match(/[\\d.]+/g) || []).map(Number); return c.startsWith('color(') ? [n[0] * 255, n[1] * 255, n[2] * 255].concat(n.slice(3)) : n; };
  const lum = rgb => {
    const ch = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * ch(rgb[0]) + 0.7152 * ch(rgb[1]) + 0.0722 * ch(rgb[2]);
  };
  const failures = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const el = t.parentElement;
    if (!el || seen.has(el) || !t.textContent.trim()) continue;
    seen.add(el);
    if (el.closest('svg') || !el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
    const fg = parse(getComputedStyle(el).color);
    let opacity = 1;
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      opacity *= Number(getComputedStyle(n).opacity);
    }
    let node = el, bg = null;
    while (node && node.nodeType === 1) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.99)) { bg = c; break; }
      node = node.parentElement;
    }
    bg = bg || [255, 255, 255];
    const alpha = (fg.length > 3 ? fg[3] : 1) * opacity;
    const blended = [0, 1, 2].map(i => alpha * fg[i] + (1 - alpha) * bg[i]);
    const [hi, lo] = [lum(blended), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < minimum) {
      failures.push(`${ratio.toFixed(2)}: ${el.tagName.toLowerCase()}.${el.className} "${t.textContent.trim().slice(0, 40)}"`);
    }
  }
  return failures;
}
"""


def low_contrast_texts(locator, minimum: float = 4.5) -> list[str]:
    """The visible texts under ``locator`` (SVG charts aside) whose WCAG contrast against
    the background they are drawn on is below ``minimum``; [] when all are readable."""
    return locator.evaluate(
        "(root, minimum) => (" + _LOW_CONTRAST_JS + ")([root, minimum])", minimum
    )


WORD_HOLDERS = "td, th, h1, h2, h3, h4, p, li, button, a"


def words_broken_mid_word(locator, selector: str = WORD_HOLDERS) -> list[str]:
    """Texts under ``locator`` that the layout breaks inside a word (a word wider than its
    box, or CSS word-break/overflow-wrap splitting it over two lines): [] when none. ``selector``: the
    elements whose own text nodes are looked at."""
    return locator.evaluate(
        """(root, selector) => {
      const out = [];
      for (const el of root.querySelectorAll(selector)) {
        if (!el.offsetParent) continue;
        const range = document.createRange();
        for (const t of el.childNodes) {
          if (t.nodeType !== 3) continue;
          for (const m of t.textContent.matchAll(/[A-Za-z0-9_]{4,}/g)) {
            range.setStart(t, m.index);
            range.setEnd(t, m.index + m[0].length);
            // on more than one line (pieces on one line: cut by an ellipsis, not broken)
            const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            if (tops.size > 1) out.push(m[0]);
          }
        }
      }
      return out;
    }""",
        selector,
    )


def assert_readable(locator, name: str) -> None:
    """Fail when text under ``locator`` is below WCAG AA contrast or broken mid-word."""
    failures = low_contrast_texts(locator)
    assert not failures, f"{name}: text below 4.5:1 contrast: {failures[:8]}"
    broken = words_broken_mid_word(locator)
    assert not broken, f"{name}: words broken mid-word: {broken[:8]}"


def mlinfra_errors(console_messages, expected: tuple[str, ...] = ()) -> list:
    """Errors the page logged about this extension, less the refusals a test asked for
    (e.g. ``409 (Conflict)``)."""
    return [
        m
        for m in console_messages
        if m.kind in ("error", "pageerror")
        and m.mentions("mlinfra")
        and not any(e in m.text for e in expected)
    ]
