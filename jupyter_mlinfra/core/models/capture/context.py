"""What the calling kernel knows that plain Python does not, and what it says about the
notebook state (the dirty-state reasons)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SessionContext:
    """What the calling kernel knows that plain Python does not.

    - ``history``: the cell sources executed in this session, in execution order (IPython's
      ``In``), used to find the source of functions defined in cells and as the fallback
      replay order when provenance is not available;
    - ``notebook_path``: the notebook the kernel runs (``JPY_SESSION_NAME``);
    - ``replay``: provenance's record for the model variable: ``{"cells": [{"cell_id",
      "execution_count", "source"}...], "hazards": [{"kind", "message"}...]}``;
    - ``cell_source``: ``f(function_name) -> source of the cell that defined it | None``
      (provenance's recorded cell source).
    """

    history: list[str] = field(default_factory=list)
    notebook_path: str | None = None
    variable: str | None = None
    replay: dict | None = None
    replay_error: str | None = None
    cell_source: Callable[[str], str | None] | None = None

    def dirty_reasons(self) -> list[str]:
        """Why the notebook state may not reproduce the model: provenance's hazards for it."""
        reasons: list[str] = []
        for hazard in (self.replay or {}).get("hazards") or []:
            if isinstance(hazard, str):
                reasons.append(hazard)
            else:
                kind = hazard.get("kind") or hazard.get("type") or "hazard"
                message = hazard.get("message") or hazard.get("detail") or ""
                reasons.append(f"{kind}: {message}".strip(": "))
        return reasons
