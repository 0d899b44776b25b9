"""`make bench`'s runner: each benchmark's lines that state a target are listed again at the
end, met or with the gap in numbers. No benchmark runs here and no wall-clock figure is
asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_all():
    sys.path.insert(0, str(BENCH))
    try:
        yield _module("run_all")
    finally:
        sys.path.remove(str(BENCH))


def test_a_verdict_says_met_or_the_gap():
    verdict = _module("_targets").verdict
    assert verdict(0.42, 0.5, " ms") == "(target <= 0.5 ms): met"
    assert verdict(0.62, 0.5, " ms") == "(target <= 0.5 ms): NOT met, 0.12 ms over"
    assert verdict(1.95, 4, "x", at_least=True) == "(target >= 4x): NOT met, 2.05x short"


def test_the_runner_lists_every_target_line_and_reports_a_failing_benchmark(
    run_all, tmp_path, capsys
):
    script = tmp_path / "fake_bench.py"
    script.write_text(
        "import sys\n"
        "print('setup done')\n"
        "print('ratio 0.52x papermill (target <= 0.6x): met')\n"
        "print('runs           tag        12   8.0ms  met')\n"
        "print('models         tag        12  61.0ms  MISSED')\n"
        "sys.exit(3)\n"
    )
    log = run_all.Log()
    ok, targets = run_all.run_script(log, "fake_bench.py", [sys.executable, str(script)])

    assert not ok
    assert targets == [
        "ratio 0.52x papermill (target <= 0.6x): met",
        "models         tag        12  61.0ms  MISSED",
    ]
    assert "setup done" in log.lines  # the whole output is kept for the results file
    assert "FAILED" in log.lines[-1]
    assert "setup done" in capsys.readouterr().out  # and streamed as it comes
