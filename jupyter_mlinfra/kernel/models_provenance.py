"""What provenance knows about a model variable, for ``register`` (kernel side).

Uses the provenance capability's core API: the kernel's recorder (its execution log and the
names alive in the kernel) and ``ProvenanceService.dependencies(name=...)`` (the replay order
of the cells that produced the variable and the hazards affecting them).
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import MLInfraError
from ..core.models.capture import SessionContext

# The hazard kinds that make a model's generating state non-reproducible (provenance's
# ``dependencies()`` uses the same set for its ``clean`` flag).
DIRTY_KINDS = {"stale_direct", "stale_transitive", "code_changed", "hidden_state",
               "deleted_cell", "reads_from_below", "out_of_order"}


def attach_provenance(context: SessionContext, shell) -> None:
    try:
        from .provenance_recorder import get_recorder
    except ImportError:  # provenance not part of this installation
        context.replay_error = "provenance is not available"
        return
    recorder = get_recorder()
    if recorder is None or recorder.shell is not shell:
        context.replay_error = ("provenance is not recording in this kernel "
                                "(%load_ext jupyter_mlinfra starts it)")
        return
    log = recorder.log()
    executions = list(log.executions)

    def cell_source(name: str) -> str | None:
        for execution in reversed(executions):
            if name in execution.binds:
                return execution.source
        return None

    context.cell_source = cell_source
    if log.notebook_path and not log.notebook_path.startswith("kernel:") \
            and context.notebook_path is None:
        context.notebook_path = log.notebook_path
    if not context.variable:
        context.replay_error = "the model is not bound to a global name: no replay order"
        return
    from ..core.workspace import get_workspace

    path = log.notebook_path if log.notebook_path and Path(log.notebook_path).is_file() \
        else None
    try:
        deps = get_workspace().service("provenance").dependencies(
            path, name=context.variable, log=log, live_names=recorder.live_names())
    except MLInfraError as exc:
        context.replay_error = exc.message
        return
    hazards = [h for h in deps.get("hazards", []) if h.get("kind") in DIRTY_KINDS]
    if not deps.get("clean", True) and not hazards:
        hazards = list(deps.get("hazards", []))
    context.replay = {
        "cells": [{"cell_id": e.get("cell_id"), "execution_count": e.get("execution_count"),
                   "source": e.get("source", "")} for e in deps.get("replay", [])],
        "hazards": hazards if not deps.get("clean", True) or hazards else [],
        "clean": deps.get("clean", True),
    }
