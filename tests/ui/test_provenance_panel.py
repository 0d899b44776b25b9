"""The Provenance tab in a real JupyterLab: a notebook is run out of order in a real kernel,
the tab shows the timeline and the hazards with their explanations, the stale and changed
cells carry a visible marker in the notebook itself, the replay notebook is exported, saving
writes the execution log into the notebook's metadata, and verify shows its verdict.
Screenshots: test-artifacts/ui/provenance-*.png.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from jupyterlab_page import open_lab, open_mlinfra_panel, open_tab, run_command, screenshot
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser

NOTEBOOK = "prov_panel.ipynb"


def _write_notebook(root) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("%load_ext jupyter_mlinfra", id="setup"),
            new_code_cell("a = 1", id="cell-a"),
            new_code_cell("b = a * 10\nb", id="cell-b"),
            new_code_cell("print(b + 1)", id="cell-c"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, root / NOTEBOOK)


def _cell(page, index: int):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def _run_cell(page, index: int) -> None:
    cell = _cell(page, index)
    cell.locator(".jp-InputArea-prompt").click()
    page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar "
        "[data-command='notebook:run-cell-and-select-next']"
    ).click()
    # wait for this run to finish: the prompt shows a number, not "[*]"
    try:
        _wait_prompt(page, index)
    except Exception:
        screenshot(page, "provenance-debug")
        from jupyterlab_page import server_of

        print(server_of(page).log_text(80))
        raise


def _wait_prompt(page, index: int) -> None:
    page.wait_for_function(
        """([i]) => {
          const cells = document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
          const p = cells[i] && cells[i].querySelector('.jp-InputArea-prompt');
          return p && /\\[\\d+\\]/.test(p.textContent);
        }""",
        arg=[index],
        timeout=60_000,
    )


def _set_source(page, index: int, text: str) -> None:
    editor = _cell(page, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)
    page.keyboard.press("Escape")


def test_provenance_panel(page, lab_server):
    _write_notebook(lab_server.root_dir)
    open_lab(page, NOTEBOOK)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=30_000)
    # the kernel is connected and idle (status bar: "Python 3 (...) | Idle")
    page.wait_for_function(
        "() => /\\| Idle/.test(document.querySelector('#jp-bottom-panel, .jp-StatusBar-Widget')"
        "?.innerText || '')",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)

    # An interactive session: run all, then re-run cell 2 with a new value (cell 3 is now
    # stale, cell 4 stale through it), then edit cell 4 without running it.
    for i in range(4):
        _run_cell(page, i)
    _set_source(page, 1, "a = 2")
    _run_cell(page, 1)
    _set_source(page, 3, "print(b + 2)")

    open_mlinfra_panel(page)
    body = open_tab(page, "Provenance")
    findings = body.locator(".jp-mlinfra-Provenance-finding")
    findings.first.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mlinfra-Provenance-finding').length >= 3",
        timeout=20_000,
    )
    texts = findings.all_inner_texts()
    assert any(
        "cell 3 is stale: it read `a`, which cell 2 rebound after cell 3 ran" in t for t in texts
    ), texts
    assert any("cell 4 is stale: it read `b`, produced by cell 3" in t for t in texts), texts
    assert any("cell 4 was edited after it last ran" in t for t in texts), texts
    assert body.locator("[data-hazard='stale']").inner_text() == "stale: 2"
    # the timeline lists the four recorded executions (not the %load_ext one), newest first
    rows = body.locator("[data-provenance-section='timeline'] tbody tr")
    assert rows.count() == 4
    # named as JupyterLab shows it: the cell's position and the count of its prompt
    assert rows.first.inner_text().startswith("cell 2 [5]"), rows.first.inner_text()

    # markers on the notebook's own cells
    stale = page.locator(".jp-Notebook .jp-Cell.jp-mlinfra-prov-stale")
    assert stale.count() == 2
    assert "b = a * 10" in stale.nth(0).inner_text()
    changed = page.locator(".jp-Notebook .jp-Cell.jp-mlinfra-prov-changed")
    assert changed.count() == 1 and "print(b + 2)" in changed.inner_text()
    assert "cell 3 is stale" in (stale.nth(0).get_attribute("title") or "")
    # the status bar says it too, for the open notebook (the tab open or not)
    status = page.locator("#jp-main-statusbar .jp-mlinfra-HazardsStatus-button")
    status.wait_for(state="visible")
    assert status.inner_text().strip().startswith("2 stale · 1 changed"), status.inner_text()
    screenshot(page, "provenance-panel")

    # export the replay notebook of the active cell (cell 4, as it ran)
    body.get_by_role("button", name="Export replay for cell 4").click()
    result = body.locator("[data-provenance-result='replay']")
    result.wait_for(state="visible", timeout=20_000)
    assert "prov_panel-replay-cell4.ipynb" in result.inner_text()
    replay = nbformat.read(lab_server.root_dir / "prov_panel-replay-cell4.ipynb", as_version=4)
    code = [c.source for c in replay.cells if c.cell_type == "code"]
    assert code == ["a = 1", "b = a * 10\nb", "print(b + 1)"]

    # save: the execution log goes into the notebook's metadata
    page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar "
        "[data-command='docmanager:save']"
    ).click()

    def saved_log():
        meta = json.loads((lab_server.root_dir / NOTEBOOK).read_text())["metadata"]
        return meta.get("jupyter_mlinfra", {}).get("provenance")

    for _ in range(40):
        log = saved_log()
        if log:
            break
        page.wait_for_timeout(500)
    assert log is not None, "the execution log was not saved into the notebook"
    assert log["saved_at"] and log["machine"]  # shown when the log travels
    assert [e["cell_id"] for e in log["executions"]] == ["cell-a", "cell-b", "cell-c", "cell-a"]
    # ... so the notebook file alone is enough for the analyses (no catalog)
    from jupyter_mlinfra.core.provenance.analysis import analyze
    from jupyter_mlinfra.core.provenance.model import cells_from_notebook, log_from_notebook

    saved = nbformat.read(lab_server.root_dir / NOTEBOOK, as_version=4)
    report = analyze(log_from_notebook(saved).executions, cells_from_notebook(saved))
    assert report.stale == ["cell-b", "cell-c"] and report.code_changed == ["cell-c"]

    # verify: the saved outputs came from an out-of-order session, so a fresh run differs
    body.get_by_role("button", name="Run verify").click()
    verdict = body.locator("[data-verdict]")
    verdict.wait_for(state="visible", timeout=120_000)
    assert verdict.get_attribute("data-verdict") == "fail"
    mismatch = body.locator("[data-provenance-result='verify'] li[data-status='mismatch']")
    assert mismatch.count() >= 1
    assert "-10" in mismatch.first.inner_text() and "+20" in mismatch.first.inner_text()
    mismatch.first.scroll_into_view_if_needed()
    screenshot(page, "provenance-verify")


RESTART_NOTEBOOK = "prov_restart.ipynb"


def test_kernel_restart_switches_to_the_new_session(page, lab_server):
    """Kernel > Restart of a notebook with hazards: the markers and findings of the session
    that ended go away at once, the panel says the kernel restarted, every execution after
    the restart (from the very first) is recorded in a session of its own, and the session
    before stays browsable in the timeline."""
    nb = new_notebook(
        cells=[
            new_code_cell("%load_ext jupyter_mlinfra", id="setup"),
            new_code_cell("a = 1", id="cell-a"),
            new_code_cell("b = a * 10\nb", id="cell-b"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, lab_server.root_dir / RESTART_NOTEBOOK)
    open_lab(page, RESTART_NOTEBOOK)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => /\\| Idle/.test(document.querySelector('#jp-bottom-panel, .jp-StatusBar-Widget')"
        "?.innerText || '')",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)
    for i in range(3):
        _run_cell(page, i)
    _set_source(page, 1, "a = 2")
    _run_cell(page, 1)  # cell 3 is now stale

    open_mlinfra_panel(page)
    body = open_tab(page, "Provenance")
    stale = page.locator(".jp-Notebook .jp-Cell.jp-mlinfra-prov-stale")
    stale.first.wait_for(state="attached", timeout=30_000)
    assert body.locator("[data-kind='stale_direct']").count() == 1

    run_command(page, "Restart Kernel…")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    # at once: no marker or finding of the session that ended, and the panel says why
    notice = body.locator("[data-provenance-restarted='restarted']")
    notice.wait_for(state="visible", timeout=15_000)
    assert stale.count() == 0
    assert body.locator(".jp-mlinfra-Provenance-finding").count() == 0
    page.wait_for_function(
        "() => /\\| Idle/.test(document.querySelector('#jp-bottom-panel, .jp-StatusBar-Widget')"
        "?.innerText || '')",
        timeout=60_000,
    )
    screenshot(page, "provenance-restarted")

    # the new kernel lifetime: its first executions are recorded, in a session of its own
    for i in range(3):
        _run_cell(page, i)
    rows = body.locator("[data-provenance-section='timeline'] tbody tr")
    page.wait_for_function(
        """() => document.querySelectorAll(
             "[data-provenance-section='timeline'] tbody tr").length === 2""",
        timeout=30_000,
    )
    assert body.locator("[data-provenance-clean='true']").count() == 1
    assert stale.count() == 0 and "its new session only (2 executions)" in notice.inner_text()
    view = lab_server.api(f"provenance?path={RESTART_NOTEBOOK}")
    assert [(e["seq"], e["cell_id"]) for e in view["executions"]] == [(1, "cell-a"), (2, "cell-b")]
    assert len(view["sessions"]) == 2
    old = view["sessions"][1]
    assert old["executions"] == 3 and old["kernel_id"] == view["sessions"][0]["kernel_id"]
    screenshot(page, "provenance-new-session")

    # the session that ended: browsable in the timeline
    body.locator("[data-provenance-sessions]").select_option(old["session_id"])
    page.wait_for_function(
        """() => document.querySelectorAll(
             "[data-provenance-section='timeline'] tbody tr").length === 3""",
        timeout=15_000,
    )
    assert rows.first.inner_text().startswith("cell 2 [4]"), rows.first.inner_text()
    screenshot(page, "provenance-earlier-session")


def test_a_kernel_that_does_not_record_offers_recording_from_the_first_cell(page, lab_server):
    """No %load_ext: the tab says the kernel is not recording and offers the switch; after
    it and a restart, the kernel records from its very first cell."""
    from pathlib import Path

    name = "prov_no_ext.ipynb"
    nbformat.write(
        new_notebook(
            cells=[new_code_cell("x = 1", id="only")],
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
        ),
        lab_server.root_dir / name,
    )
    config = Path(lab_server.env["IPYTHONDIR"]) / "profile_default" / "ipython_kernel_config.py"
    try:
        open_lab(page, name)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=30_000)
        page.wait_for_function(
            "() => /\\| Idle/.test(document.querySelector('#jp-bottom-panel, "
            ".jp-StatusBar-Widget')?.innerText || '')",
            timeout=60_000,
        )
        page.wait_for_timeout(1000)
        _run_cell(page, 0)
        open_mlinfra_panel(page)
        body = open_tab(page, "Provenance")
        offer = body.locator("[data-provenance-empty='not-recording']")
        offer.wait_for(state="visible", timeout=30_000)
        assert "kernel is not recording" in offer.inner_text()
        screenshot(page, "provenance-not-recording")
        offer.get_by_role("button", name="Record every kernel from its first cell").click()
        done = body.locator("[data-provenance-result='recording-enabled']")
        done.wait_for(state="visible", timeout=15_000)
        assert str(config) in done.inner_text() and "jupyter_mlinfra" in config.read_text()

        run_command(page, "Restart Kernel…")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        page.wait_for_function(
            "() => /\\| Idle/.test(document.querySelector('#jp-bottom-panel, "
            ".jp-StatusBar-Widget')?.innerText || '')",
            timeout=60_000,
        )
        page.wait_for_timeout(1000)
        _run_cell(page, 0)  # no %load_ext: recorded all the same
        page.wait_for_function(
            """() => document.querySelectorAll(
                 "[data-provenance-section='timeline'] tbody tr").length === 1""",
            timeout=30_000,
        )
        view = lab_server.api(f"provenance?path={name}")
        assert [e["cell_id"] for e in view["executions"]] == ["only"]
        screenshot(page, "provenance-recording-from-first-cell")
    finally:
        lab_server.api("provenance/recording", "POST", {"enabled": False})
    assert not config.exists()


SAVED_NOTEBOOK = "prov_saved.ipynb"


def test_a_notebook_carrying_a_saved_log_and_replay_export_that_never_overwrites(page, lab_server):
    """A notebook saved elsewhere with its execution log, opened in a kernel that has
    recorded nothing: the tab shows the saved log (its date and machine), its findings and
    markers numbered as JupyterLab shows cells ("cell 3 [3]"), and the timeline shows a
    deletion. Export replay follows the active cell (cell 2) and writes a new file each time."""
    from jupyter_mlinfra.core.provenance.model import Execution, ExecutionLog, attach_log

    nb = new_notebook(
        cells=[
            new_code_cell("a = 1\ntmp = 0", id="cell-a", execution_count=4),
            new_code_cell("b = a * 10\ndel tmp", id="cell-b", execution_count=2),
            new_code_cell("print(b + 1)", id="cell-c", execution_count=3),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )

    def ex(seq, cid, src, reads=(), binds=(), deletes=()):
        return Execution(
            seq=seq,
            cell_id=cid,
            source=src,
            session_id="saved-elsewhere",
            notebook_path="/home/someone/prov_saved.ipynb",
            execution_count=seq,
            started_at=1.76e9 + seq,
            ended_at=1.76e9 + seq + 0.01,
            reads=frozenset(reads),
            binds=frozenset(binds),
            deletes=frozenset(deletes),
        )

    attach_log(
        nb,
        ExecutionLog(
            [
                ex(1, "cell-a", "a = 1\ntmp = 0", binds=["a", "tmp"]),
                ex(2, "cell-b", "b = a * 10\ndel tmp", ["a"], ["b"], ["tmp"]),
                ex(3, "cell-c", "print(b + 1)", ["b"]),
                ex(4, "cell-a", "a = 1\ntmp = 0", binds=["a", "tmp"]),
            ],
            notebook_path="/home/someone/prov_saved.ipynb",
            session_id="saved-elsewhere",
        ),
    )
    nb.metadata["jupyter_mlinfra"]["provenance"]["machine"] = "laptop-7"
    nbformat.write(nb, lab_server.root_dir / SAVED_NOTEBOOK)

    open_lab(page, SAVED_NOTEBOOK)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => /\\| Idle/.test(document.querySelector('#jp-bottom-panel, .jp-StatusBar-Widget')"
        "?.innerText || '')",
        timeout=60_000,
    )
    open_mlinfra_panel(page)
    body = open_tab(page, "Provenance")
    notice = body.locator("[data-provenance-source='saved']")
    notice.wait_for(state="visible", timeout=30_000)
    assert notice.inner_text().startswith("Saved log from ")
    assert "on laptop-7" in notice.inner_text()
    # one numbering: findings, markers and timeline say "cell N [count]"
    stale = body.locator("[data-kind='stale_direct']")
    stale.first.wait_for(state="visible", timeout=15_000)
    assert stale.first.locator("[data-cell-ref]").inner_text() == "cell 2 [2]"
    marker = page.locator(".jp-Notebook .jp-Cell.jp-mlinfra-prov-stale").first
    assert marker.get_attribute("data-mlinfra-cell-ref") == "cell 2 [2]"
    rows = body.locator("[data-provenance-section='timeline'] tbody tr")
    assert rows.count() == 4
    assert "cell 2 [2]" in rows.nth(2).inner_text()
    assert "del tmp" in rows.nth(2).locator("[data-provenance-del]").inner_text()
    screenshot(page, "provenance-saved-log")

    # export replay with cell 2 active: the button says so; twice makes two files
    _cell(page, 1).locator(".jp-InputArea-prompt").click()
    button = body.get_by_role("button", name="Export replay for cell 2")
    button.wait_for(state="visible", timeout=10_000)
    button.click()
    result = body.locator("[data-provenance-result='replay']")
    result.wait_for(state="visible", timeout=20_000)
    first = lab_server.root_dir / "prov_saved-replay-cell2.ipynb"
    assert "prov_saved-replay-cell2.ipynb" in result.inner_text() and first.is_file()
    before = first.read_bytes()
    code = [c.source for c in nbformat.read(first, as_version=4).cells if c.cell_type == "code"]
    assert code == ["a = 1\ntmp = 0", "b = a * 10\ndel tmp"]
    button.click()
    page.wait_for_function(
        """() => /prov_saved-replay-cell2-1\\.ipynb/.test(document.querySelector(
             "[data-provenance-result='replay']")?.innerText || '')""",
        timeout=20_000,
    )
    assert (lab_server.root_dir / "prov_saved-replay-cell2-1.ipynb").is_file()
    assert first.read_bytes() == before  # not overwritten
    screenshot(page, "provenance-replay-export")
