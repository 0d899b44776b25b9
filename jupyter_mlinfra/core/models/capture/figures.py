"""7. The experiment artifacts: matplotlib figures as PNG, and attached files."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from ...errors import InvalidInput
from .serializers import SerializedPart


def render_figures(figures: Any) -> list[tuple[str, bytes]]:
    """PNG bytes of matplotlib figures: the ones passed in, or (``"open"``) every open figure
    when pyplot is in use."""
    if figures is None or figures == "open":
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return []
        figures = [pyplot.figure(n) for n in pyplot.get_fignums()]
    elif not isinstance(figures, (list, tuple)):
        figures = [figures]
    rendered = []
    for i, fig in enumerate(figures, 1):
        if not hasattr(fig, "savefig"):
            raise InvalidInput(f"figure {i} is a {type(fig).__name__}, not a matplotlib figure")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        label = None
        try:
            label = fig.get_label() or (fig.axes[0].get_title() if fig.axes else None)
        except Exception:
            label = None
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in (label or ""))[:40]
        rendered.append((f"figure-{i}{'-' + safe if safe else ''}.png", buffer.getvalue()))
    return rendered


def experiment_parts(figures: Any = None, files: list | None = None) -> list[SerializedPart]:
    """The figures (PNG) and the attached files (``files/<name>``)."""
    parts = [
        SerializedPart(filename, "figure", png, "png", "image/png", loadable=False)
        for filename, png in render_figures(figures)
    ]
    for item in files or []:
        path = Path(item).expanduser()
        if not path.is_file():
            raise InvalidInput(f"cannot attach {item}: no such file")
        parts.append(
            SerializedPart(f"files/{path.name}", "file", path.read_bytes(), "file", loadable=False)
        )
    return parts
