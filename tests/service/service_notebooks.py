"""A saved notebook (as JSON) whose code cells ran in order, with the given outputs."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output


def saved_notebook(cells: list[tuple[str, str]]) -> dict:
    """``cells``: (source, text/plain result or "" for none), executed 1, 2, ..."""
    nb = new_notebook(
        cells=[
            new_code_cell(
                src,
                id=f"c{i}",
                execution_count=i + 1,
                outputs=[
                    new_output("execute_result", data={"text/plain": out}, execution_count=i + 1)
                ]
                if out
                else [],
            )
            for i, (src, out) in enumerate(cells)
        ],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    return nbformat.from_dict(nb)
