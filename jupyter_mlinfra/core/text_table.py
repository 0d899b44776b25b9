"""Plain-text tables, shared by the CLI and the magics' text output."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def render_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
    max_width: int | None = 80,
) -> str:
    rows = list(rows)
    headers = list(headers or [c.upper() for c in columns])

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text if max_width is None or len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)
