"""`make bench`: run every benchmark script in this folder, one after the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _stamp() -> str:
    """Every table's context: the date and the load average (1, 5, 15 min) of the machine."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, load average {load}"


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("*.py")):
        if script.name == Path(__file__).name or script.name.startswith("_"):
            continue
        print(f"\n##### {script.name}  ({_stamp()})", flush=True)
        t0 = time.perf_counter()
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.name)
        print(f"##### {script.name} done in {time.perf_counter() - t0:.0f} s ({_stamp()})")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
