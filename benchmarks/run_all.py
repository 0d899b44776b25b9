"""`make bench`: run every benchmark script in this folder, one after the other, then print
every line that states a target (the figure, the target and whether it is met) in one list.

Run search runs twice: on SQLite, and on a throwaway PostgreSQL server when PostgreSQL is
installed (`make test` installs it). The whole output is also written to
``benchmarks/results/latest.txt``, the record `benchmarks/README.md` quotes.

    .venv/bin/python benchmarks/run_all.py [name ...]   (names: e.g. jobs_oneoff run_search)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.txt"
# A line that states a target: "(target <= 0.6x): met", "NOT met", a run-search row "MISSED"
# (run search's rows that meet theirs, ending in "met", are not repeated).
TARGET_LINE = re.compile(r"target [<>]=|target:|MISSED|NOT met", re.IGNORECASE)
# Lines that say nothing about the figures (every papermill kernel's stderr warning).
NOISE = re.compile(r"Kernel is running over TCP without encryption")


def _stamp() -> str:
    """Every table's context: the date and the load average (1, 5, 15 min) of the machine."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, load average {load}"


class Log:
    """Print and keep every line (for the results file and the summary)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def run_script(log: Log, label: str, cmd: list[str]) -> tuple[bool, list[str]]:
    """Run one benchmark, streaming its output; (succeeded, its target lines)."""
    log(f"\n##### {label}  ({_stamp()})")
    t0 = time.perf_counter()
    targets: list[str] = []
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        if NOISE.search(line):
            continue
        log(line)
        if TARGET_LINE.search(line):
            targets.append(line.strip())
    ok = proc.wait() == 0
    log(
        f"##### {label} {'done' if ok else 'FAILED'} in {time.perf_counter() - t0:.0f} s "
        f"({_stamp()})"
    )
    return ok, targets


def main() -> int:
    only = set(sys.argv[1:])
    log = Log()
    log(f"make bench, {_stamp()}, {os.cpu_count()} cores")
    scripts = [
        s
        for s in sorted(HERE.glob("*.py"))
        if s.name != Path(__file__).name and not s.name.startswith("_")
    ]
    failed: list[str] = []
    summary: list[tuple[str, list[str]]] = []
    with ExitStack() as stack:
        for script in scripts:
            if only and script.stem not in only:
                continue
            runs = [(script.name, [sys.executable, str(script)])]
            if script.stem == "run_search":
                pg = _postgres(stack, log)
                if pg:
                    runs.append((f"{script.name} (PostgreSQL)", [*runs[0][1], "--catalog", pg]))
            for label, cmd in runs:
                ok, targets = run_script(log, label, cmd)
                summary.append((label, targets))
                if not ok:
                    failed.append(label)
    log(f"\n##### Targets, every benchmark ({_stamp()})")
    for label, targets in summary:
        log(f"{label}:")
        for line in targets or ["(no target line printed)"]:
            log(f"  {line}")
    if failed:
        log("failed: " + ", ".join(failed))
    if not only:  # a partial run does not replace the record of a whole one
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(log.lines) + "\n")
        print(f"(written to {RESULTS.relative_to(HERE.parent)})")
    return 1 if failed else 0


def _postgres(stack: ExitStack, log: Log) -> str | None:
    """An empty database on a throwaway PostgreSQL server (stopped at the end), or None."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import servers  # the tests' throwaway PostgreSQL server

    bindir = servers.pg_bindir()
    if bindir is None:
        log("run_search.py on PostgreSQL: skipped, PostgreSQL is not installed")
        return None
    base = stack.enter_context(servers.throwaway_postgres(bindir))
    return servers.create_database(base, f"bench_{uuid.uuid4().hex[:8]}")


if __name__ == "__main__":
    sys.exit(main())
