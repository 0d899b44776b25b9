"""From raw observations to :class:`Execution` records (pure; the kernel recorder feeds it).

The kernel side observes, cheaply, on the kernel's thread: the cell id, the source, timings,
status, and which global names were rebound, added or deleted (a comparison of object
identities, no copies). Everything else happens here, off the hot path: the static analysis of
the source (:mod:`.names`), the merge with the namespace diff, and the expansion of calls to
functions defined in earlier cells into the globals those functions read or mutate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .model import Execution
from .names import analyze_source

# Names IPython itself maintains in the user namespace; never user state.
_IPYTHON_NAME = re.compile(r"^(_|__|___|_i|_ii|_iii|_i\d+|_\d+|_oh|_dh|_ih|In|Out|_mlinfra\w*)$")


def is_ipython_name(name: str) -> bool:
    return bool(_IPYTHON_NAME.match(name))


@dataclass
class Observation:
    """What the kernel saw around one execution."""

    seq: int
    cell_id: str
    source: str              # as typed (raw cell)
    python_source: str       # after IPython's input transformation (magics -> calls)
    started_at: float
    ended_at: float
    execution_count: int | None = None
    status: str = "ok"
    error_type: str | None = None
    rebound: frozenset[str] = frozenset()   # names added or bound to another object
    deleted: frozenset[str] = frozenset()
    aliases: dict[str, frozenset[str]] = field(default_factory=dict)  # name -> same-object names


@dataclass
class _Deferred:
    reads: frozenset[str]
    mutates: frozenset[str]
    binds: frozenset[str]


class HistoryBuilder:
    """Keeps the in-memory history of one kernel session and builds each new record."""

    def __init__(self, session_id: str = "", notebook_path: str = "") -> None:
        self.session_id = session_id
        self.notebook_path = notebook_path
        self.executions: list[Execution] = []
        self._deferred: dict[str, _Deferred] = {}

    def _expand(self, names: set[str], calls: set[str]) -> tuple[set[str], set[str], set[str]]:
        """Globals read / mutated / bound through functions defined earlier."""
        reads: set[str] = set()
        mutates: set[str] = set()
        binds: set[str] = set()
        seen: set[tuple[str, bool]] = set()
        todo = [(n, n in calls) for n in names if n in self._deferred]
        while todo:
            name, called = todo.pop()
            if (name, called) in seen:
                continue
            seen.add((name, called))
            d = self._deferred[name]
            reads |= d.reads
            if called:  # a function body referencing another function most likely calls it
                mutates |= d.mutates
                binds |= d.binds
            todo.extend((n, called) for n in d.reads if n in self._deferred)
        return reads, mutates, binds

    def add(self, obs: Observation, notebook_path: str | None = None,
            alias_lookup: Callable[[set[str]], dict[str, frozenset[str]]] | None = None,
            ) -> Execution:
        """Build, keep and return the record of one observed execution. ``alias_lookup`` maps
        mutated names to the other global names bound to the same object."""
        effects = analyze_source(obs.python_source or obs.source)
        ok = obs.status == "ok"
        rebound = {n for n in obs.rebound if not is_ipython_name(n)}
        deleted = {n for n in obs.deleted if not is_ipython_name(n)}

        via_reads, via_mutates, via_binds = self._expand(effects.reads | effects.calls,
                                                         effects.calls)
        reads = effects.reads | (via_reads - effects.binds)
        static_binds = effects.binds | via_binds
        binds = rebound | (static_binds if ok else static_binds & rebound)
        binds -= deleted
        mutates = set(effects.mutates) | via_mutates
        if alias_lookup is not None and mutates:
            obs.aliases = {**obs.aliases, **alias_lookup(mutates)}
        for name in list(mutates):
            mutates |= obs.aliases.get(name, frozenset())
        mutates -= deleted
        deletes = deleted | ((effects.deletes if ok else effects.deletes & deleted) - binds)
        reads = {n for n in reads if not is_ipython_name(n)}

        deferred: dict[str, list[str]] = {}
        for name in binds | deletes:
            if name in effects.deferred_reads and name in binds:
                d = _Deferred(frozenset(effects.deferred_reads[name]),
                              frozenset(effects.deferred_mutates.get(name, ())),
                              frozenset(effects.deferred_binds.get(name, ())))
                self._deferred[name] = d
                deferred[name] = sorted(d.reads | d.mutates)
            else:
                self._deferred.pop(name, None)

        execution = Execution(
            seq=obs.seq, cell_id=obs.cell_id, source=obs.source,
            session_id=self.session_id,
            notebook_path=notebook_path if notebook_path is not None else self.notebook_path,
            execution_count=obs.execution_count, started_at=obs.started_at,
            ended_at=obs.ended_at, status=obs.status, error_type=obs.error_type,
            reads=frozenset(reads), binds=frozenset(binds), mutates=frozenset(mutates),
            deletes=frozenset(deletes), deferred=deferred)
        self.executions.append(execution)
        return execution

    def live_names(self) -> set[str]:
        """User names bound at the end of the history (when the kernel itself is not at hand)."""
        return live_names_from_history(self.executions)


def live_names_from_history(executions: list[Execution]) -> set[str]:
    live: set[str] = set()
    for e in executions:
        live |= e.binds
        live -= e.deletes
    return live
