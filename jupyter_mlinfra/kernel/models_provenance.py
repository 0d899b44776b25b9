"""What provenance knows about a model variable, for ``register`` (kernel side).

Uses the provenance capability's core API: the kernel's recorder (its execution log and the
names alive in the kernel) and ``ProvenanceService.dependencies(name=...)`` (the replay order
of the cells that produced the variable and the hazards affecting them).
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import MLInfraError
from ..core.models.capture import SessionContext
from ..core.provenance.analysis import DIRTY_KINDS


def attach_provenance(context: SessionContext, shell) -> None:
    from .provenance_recorder import get_recorder

    recorder = get_recorder()
    if recorder is None or recorder.shell is not shell:
        context.replay_error = (
            "provenance is not recording in this kernel (%load_ext jupyter_mlinfra starts it)"
        )
        return
    log = recorder.log()
    executions = list(log.executions)

    def cell_source(name: str) -> str | None:
        for execution in reversed(executions):
            if name in execution.binds:
                return execution.source
        return None

    context.cell_source = cell_source
    if (
        log.notebook_path
        and not log.notebook_path.startswith("kernel:")
        and context.notebook_path is None
    ):
        context.notebook_path = log.notebook_path
    if not context.variable:
        context.replay_error = "the model is not bound to a global name: no replay order"
        return
    from ..core.workspace import get_workspace

    path = log.notebook_path if log.notebook_path and Path(log.notebook_path).is_file() else None
    service = get_workspace().service("provenance")
    live = recorder.live_names()
    try:
        if any(context.variable in e.binds for e in executions):
            deps = service.dependencies(path, name=context.variable, log=log, live_names=live)
        else:  # bound by the cell running right now, which provenance records only after it
            deps = _current_cell_dependencies(service, path, log, live, executions, context, shell)
    except MLInfraError as exc:
        context.replay_error = exc.message
        return
    hazards = [h for h in deps.get("hazards", []) if h.get("kind") in DIRTY_KINDS]
    if not deps.get("clean", True) and not hazards:
        hazards = list(deps.get("hazards", []))
    context.replay = {
        "cells": [
            {
                "cell_id": e.get("cell_id"),
                "execution_count": e.get("execution_count"),
                "source": e.get("source", ""),
            }
            for e in deps.get("replay", [])
        ],
        "hazards": hazards if not deps.get("clean", True) or hazards else [],
        "clean": deps.get("clean", True),
    }


def _current_cell_dependencies(service, path, log, live, executions, context, shell) -> dict:
    """The replay of what the running cell reads, followed by the running cell itself."""
    import os

    from ..core.provenance.names import analyze_source, python_source
    from ..core.provenance.recording import resolve_files

    current = context.history[-1] if context.history else ""
    effects = analyze_source(python_source(current))
    # the files it reads, as the recorder names them (absolute, paths held by names resolved)
    reads = resolve_files(effects.reads, shell.user_ns, os.getcwd())
    bound_before = set().union(*(e.binds | e.mutates for e in executions)) if executions else set()
    replay: dict[int, dict] = {}
    hazards: dict[str, dict] = {}
    clean = True
    for name in sorted(reads):
        if name in bound_before:
            deps = service.dependencies(path, name=name, log=log, live_names=live)
            for e in deps.get("replay", []):
                replay[e["seq"]] = e
            for h in deps.get("hazards", []):
                hazards.setdefault(h.get("message", str(h)), h)
            clean = clean and deps.get("clean", True)
        elif name in shell.user_ns and not name.startswith("_"):
            clean = False
            before = log.before_recording
            if before is not None and name in before.names:
                kind = "before_recording"
                message = (
                    f"the model's cell reads `{name}`, left by executions that ran "
                    f"before recording started ({before.executions})"
                )
            else:
                kind = "hidden_state"
                message = (
                    f"the model's cell reads `{name}`, which no recorded cell defines "
                    "(hidden state)"
                )
            hazards.setdefault(
                message, {"kind": kind, "cell_id": None, "names": [name], "message": message}
            )
    cells = [replay[seq] for seq in sorted(replay)]
    cells.append({"cell_id": None, "execution_count": None, "source": current})
    return {"replay": cells, "hazards": list(hazards.values()), "clean": clean}
