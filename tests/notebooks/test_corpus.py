"""Verify and check on a corpus of notebooks written in the style of the ones in the wild
(tests/notebooks/corpus, built by build_corpus.py): DataFrames, figures, images, widgets,
progress bars, warnings, %timeit and %%capture, shell escapes, logging, dicts and sets,
exceptions, files, the network, seeded and unseeded randomness.

Every notebook gets a verdict (no crash, no hang); the notebooks whose re-run shows the same
thing pass (no false mismatch from display formatting, set order, image bytes, widget ids,
progress bars, warning locations or timings); the real differences are reported on the right
cell; a notebook that needs a file or the network it does not have gets an error naming the
cell and what it needed, not a traceback. ``check`` reports on every one from the log saved in
its metadata.

The notebooks are verified in parallel (each in its own fresh kernel), each from a copy in a
folder of its own, so the files they write neither meet nor land in the repository.
"""

from __future__ import annotations

import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "corpus"
NETWORK_PORT = 47311  # build_corpus.NETWORK_PORT: served while building, closed here
WORKERS = 2  # one kernel per core
CELL_TIMEOUT = 60
# the first test to ask for ``verdicts`` verifies the whole corpus (1.5-3 min on 2 cores, more
# on a busy machine); a hang is caught per cell by CELL_TIMEOUT and at kernel start by the runner
CORPUS_TIMEOUT = pytest.mark.timeout(900)

# name -> expected verdict: "pass", or {cell number (1-based, as verify prints it):
# (status, words the reason must contain)}. Every other code cell must match (or be skipped).
EXPECTED: dict[str, str | dict[int, tuple[str, str]]] = {
    "capture_magic": "pass",
    "dates_and_times": "pass",  # now(), today(): timestamps sanitized
    "dicts_and_sets": "pass",  # a printed set of strings: order sanitized
    "exception_handled": "pass",  # traceback.print_exc: tmp paths sanitized
    "exception_mid_notebook": "pass",  # saved with a KeyError: it fails the same way
    "feature_engineering": "pass",
    "file_roundtrip": "pass",
    "gradient_descent_numpy": "pass",
    "images_pil": "pass",  # image bytes: compared by MIME type
    "ipywidgets_dashboard": "pass",  # widget model ids
    "ipywidgets_slider": "pass",
    "kmeans_clustering": "pass",
    "logging_output": "pass",  # asctime with milliseconds
    "long_dataframe_display": "pass",
    "matplotlib_line_plot": "pass",
    "matplotlib_subplots_hist": "pass",
    "numpy_arrays": "pass",
    "numpy_float_formatting": "pass",
    "numpy_linear_algebra": "pass",
    "object_reprs": "pass",  # <__main__.Model at 0x...>
    "pandas_basics": "pass",
    "pandas_merge_join": "pass",
    "pandas_missing_values": "pass",
    "pandas_read_csv_sales": "pass",  # data/sales.csv is in the corpus
    "pandas_styling_html": "pass",
    "pandas_timeseries": "pass",
    "pathlib_glob_reports": "pass",
    "pickle_model_save_load": "pass",
    "random_forest_importances": "pass",
    "rich_display_objects": "pass",
    "shell_escapes": "pass",
    "sklearn_convergence_warning": "pass",  # a library warning: file:line sanitized
    "sklearn_grid_search": "pass",
    "sklearn_iris_classifier": "pass",
    "sklearn_regression_pipeline": "pass",
    "sys_exit_in_cell": "pass",  # saved with SystemExit: stops the same way
    "text_processing": "pass",
    "timeit_magics": "pass",  # %timeit, %time, %%time
    "tqdm_auto_widget": "pass",  # tqdm.auto / tqdm.notebook widgets
    "tqdm_training_loop": "pass",  # tqdm on stderr with \r redraws and postfix
    "train_test_eval_plots": "pass",
    "unicode_output": "pass",
    "warnings_custom": "pass",  # warnings from the notebook's own code
    # -- real differences and missing inputs --
    "missing_data_file": {4: ("error", "data/train.csv")},
    "network_download": {3: ("error", "Connection refused")},
    "unseeded_random": {
        3: ("mismatch", "outputs differ"),
        4: ("mismatch", "outputs differ"),
        5: ("mismatch", "outputs differ"),
    },
    "deleted_cell_hidden_state": {3: ("error", "name 'threshold' is not defined")},
    "edited_after_run": {3: ("mismatch", "outputs differ"), 4: ("mismatch", "outputs differ")},
}

# check's findings that the saved log must show (report key -> cell numbers or names)
EXPECTED_CHECK = {
    "deleted_cell_hidden_state": {"hidden_state": ["threshold"]},
    "edited_after_run": {"code_changed": [2]},
}


def _notebooks() -> list[Path]:
    return sorted(CORPUS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def corpus_home(tmp_path_factory):
    """The corpus copied to a scratch folder, and an mlinfra home of its own."""
    root = tmp_path_factory.mktemp("corpus")
    for path in _notebooks():  # each in a folder of its own, as in a project, with the data
        folder = root / "corpus" / path.stem
        shutil.copytree(CORPUS / "data", folder / "data")
        shutil.copy(path, folder)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLINFRA_HOME", str(root / "mlinfra-home"))
    for name in ("MLINFRA_CATALOG_URL", "MLINFRA_ARTIFACT_ROOT", "MLINFRA_S3_ENDPOINT_URL"):
        mp.delenv(name, raising=False)
    mp.setenv("JUPYTER_CONFIG_DIR", str(root / "jupyter-config"))
    mp.setenv("JUPYTER_CONFIG_PATH", str(root / "jupyter-config"))
    yield root / "corpus"
    mp.undo()


@pytest.fixture(scope="module")
def verdicts(corpus_home):
    """verify() on every notebook, in parallel: name -> VerifyResult, or the crash's text."""
    from jupyter_mlinfra import provenance

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", NETWORK_PORT)) != 0, (
            f"something listens on 127.0.0.1:{NETWORK_PORT}: network_download would not fail"
        )

    def run(path: Path):
        try:
            result = provenance.verify(path, timeout=CELL_TIMEOUT)
            if (result.stop or {}).get("kind") == "kernel_failed":
                # the kernel did not start (on a busy machine another process can take the
                # port it was given): that says nothing about the notebook; one more try
                result = provenance.verify(path, timeout=CELL_TIMEOUT)
            return path.stem, result
        except BaseException as exc:  # a crash is a finding, not the end of the corpus
            import traceback

            return path.stem, "".join(traceback.format_exception(exc))

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(pool.map(run, sorted(corpus_home.glob("*/*.ipynb"))))


def test_corpus_is_varied_and_small():
    names = {p.stem for p in _notebooks()}
    assert len(names) >= 40
    assert names == set(EXPECTED), "every corpus notebook has an expected verdict, and back"
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 2 * 1024 * 1024
    assert not (CORPUS / "data" / "train.csv").exists()  # the missing input stays missing


@pytest.mark.slow
@CORPUS_TIMEOUT
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verify_gives_the_expected_verdict(name, verdicts):
    result = verdicts[name]
    assert not isinstance(result, str), f"verify crashed on {name}:\n{result}"
    expected = EXPECTED[name]
    by_number = {c.index + 1: c for c in result.cells}
    if expected == "pass":
        assert result.ok, result.to_text()  # no false mismatch
        return
    assert not result.ok
    for number, (status, words) in expected.items():
        cell = by_number[number]
        assert cell.status == status, result.to_text()
        assert words in (cell.reason + cell.diff), result.to_text()
    unexpected = [
        c for n, c in by_number.items() if n not in expected and c.status in ("mismatch", "error")
    ]
    assert not unexpected, result.to_text()


@pytest.mark.slow
@CORPUS_TIMEOUT
def test_missing_inputs_get_a_clear_verdict_not_a_traceback(verdicts):
    for name, where in (("missing_data_file", "cell 4"), ("network_download", "cell 3")):
        text = verdicts[name].to_text()
        assert f"{where}" in text and "error" in text
        assert "Traceback" not in text and 'File "' not in text, text
    text = verdicts["missing_data_file"].to_text()
    assert "No such file or directory: 'data/train.csv'" in text
    assert "needs data/train.csv" in text, text
    assert "needs the network" in verdicts["network_download"].to_text()
    # the cells after the failure are reported as not run, not as mismatches
    assert verdicts["missing_data_file"].counts["not_run"] == 1


@pytest.mark.slow
@CORPUS_TIMEOUT
def test_check_runs_on_every_notebook(corpus_home, verdicts):
    """From the execution log saved in each notebook's metadata."""
    from jupyter_mlinfra import provenance

    for path in sorted(corpus_home.glob("*/*.ipynb")):
        report = provenance.check(str(path)).to_dict()
        code_ids = _code_cell_numbers(path)
        for key, expected in EXPECTED_CHECK.get(path.stem, {}).items():
            got = report[key]
            if expected and isinstance(expected[0], int):
                got = sorted(code_ids[cid] for cid in got)
            assert got == expected, (path.stem, key, report["explanations"])
        if EXPECTED.get(path.stem) == "pass" and path.stem != "exception_mid_notebook":
            # a notebook saved after one clean top-to-bottom run has nothing to report
            assert (
                not report["stale"]
                and not report["hidden_state"]
                and not report["code_changed"]
                and not report["out_of_order"]
            ), (path.stem, report["explanations"])


def _code_cell_numbers(path: Path) -> dict[str, int]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return {c.get("id"): i + 1 for i, c in enumerate(nb.cells)}
