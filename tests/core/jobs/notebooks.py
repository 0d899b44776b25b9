"""Tiny notebooks for the jobs tests (written into a temporary server root)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook


def write(path: Path, params: str | None, *cells: str, kernel: str = "python3") -> Path:
    nb = new_notebook()
    if params is not None:
        nb.cells.append(new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells.extend(new_code_cell(c) for c in cells)
    nb.metadata["kernelspec"] = {"name": kernel, "language": "python", "display_name": kernel}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def make_root(root: Path) -> Path:
    write(
        root / "ok.ipynb",
        "x = 1\nlabel = 'a'",
        "import os, jupyter_mlinfra\ny = x * 2\nprint('y is', y, 'run', os.environ.get('MLINFRA_RUN_ID'))",
        "jupyter_mlinfra.log_metric('y', y)\njupyter_mlinfra.log_metric('half', y / 4)\n"
        "jupyter_mlinfra.log_artifact('summary.txt', f'y={y}')",
    )
    write(
        root / "fail.ipynb",
        "x = 1",
        "print('before the failure')",
        "raise ValueError(f'bad value {x}')",
        "print('never')",
    )
    write(
        root / "slow.ipynb",
        "seconds = 60.0",
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        "open('pids.txt', 'w').write(f'{os.getpid()} {child.pid}')\n"
        "print('started', flush=True)",
        "time.sleep(seconds)",
    )
    write(
        root / "flaky.ipynb",
        "marker = 'flaky.count'",
        "import pathlib\np = pathlib.Path(marker)\nn = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\nif n == 0:\n    raise RuntimeError('first attempt fails')",
        "import jupyter_mlinfra\njupyter_mlinfra.log_metric('attempt_seen', n + 1)",
    )
    write(root / "nokernel.ipynb", None, "print(1)", kernel="no-such-kernel")
    write(root / "sub" / "noparams.ipynb", None, "print('no parameters here')")
    (root / "broken.ipynb").write_text("{ this is not json")
    return root
