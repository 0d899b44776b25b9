"""From raw observations to :class:`Execution` records (pure; the kernel recorder feeds it).

The kernel side observes, cheaply, on the kernel's thread: the cell id, the source, timings,
status, and which global names were rebound, added or deleted (a comparison of object
identities, no copies). Everything else happens here, off the hot path: the static analysis of
the source (:mod:`.names`), the merge with the namespace diff, and the expansion of calls to
functions defined in earlier cells into the globals those functions read or mutate.

With the kernel's namespace at hand (``namespace``: the user's ``(name, object)`` pairs), the
static effects are refined: a name an unknown call received is not counted as mutated when its
object cannot change (a number, a string, a function, a module); a name a loop or a call consumed
is mutated when it holds an iterator; and a mutation reaches the other names that hold the same
object, one level down (a container's items, an object's attributes, a numpy view's base) or up.

Files: the static ``<file:relative>`` pseudo-names become absolute (the kernel's working directory),
``<file?:name>`` ones take the path the name holds (a ``str`` or ``os.PathLike``), and each file
the execution read or wrote gets a cheap fingerprint (size, mtime in ns) in ``Execution.files``:
``check`` compares it with the file on disk to see writes made outside the notebook.
"""

from __future__ import annotations

import os
import re
import types
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from .model import Execution
from .names import analyze_source, is_pseudo_name

# Names IPython itself maintains in the user namespace; never user state.
_IPYTHON_NAME = re.compile(r"^(_|__|___|_i|_ii|_iii|_i\d+|_\d+|_oh|_dh|_ih|In|Out|_mlinfra\w*)$")


def is_ipython_name(name: str) -> bool:
    return bool(_IPYTHON_NAME.match(name))


@dataclass
class Observation:
    """What the kernel saw around one execution."""

    seq: int
    cell_id: str
    source: str  # as typed (raw cell)
    python_source: str  # after IPython's input transformation (magics -> calls)
    started_at: float
    ended_at: float
    execution_count: int | None = None
    status: str = "ok"
    error_type: str | None = None
    rebound: frozenset[str] = frozenset()  # names added or bound to another object
    deleted: frozenset[str] = frozenset()
    aliases: dict[str, frozenset[str]] = field(default_factory=dict)  # name -> same-object names


@dataclass
class _Deferred:
    reads: frozenset[str]
    mutates: frozenset[str]
    binds: frozenset[str]
    unfollowed: tuple[str, ...] = ()


_IMMUTABLE = (
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    range,
    type(None),
    frozenset,
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
)
_MAX_CHILDREN = 1000
_MISSING = object()


def _resolve_file(name: str, objs: dict[str, Any] | None, cwd: str | None) -> str | None:
    """The absolute file pseudo-name for a static one; None when the path is not known."""
    if name.startswith("<file?:"):
        if objs is None:
            return None
        var, _, suffix = name[7:-1].partition("|")
        value = objs.get(var)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            return None
        name = f"<file:{value if value.endswith(suffix) else value + suffix}>"
    if cwd is not None and name.startswith("<file:"):
        path = os.path.normpath(os.path.join(cwd, os.path.expanduser(name[6:-1])))
        return f"<file:{path}>"
    return name


def resolve_files(names: set[str], objs: dict[str, Any] | None, cwd: str | None) -> set[str]:
    """``names`` with the static file pseudo-names made absolute (``cwd``) or resolved through
    the names holding their path (``objs``); the ones that cannot be resolved are left out."""
    if not any(n.startswith("<file") for n in names):
        return names
    out = set()
    for n in names:
        resolved = _resolve_file(n, objs, cwd) if n.startswith("<file") else n
        if resolved is not None:
            out.add(resolved)
    return out


def fingerprint(path: str) -> list[int] | None:
    """Size and modification time (ns) of a file; None if it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


# The exact types above: most globals are one of them, found with one set lookup.
_IMMUTABLE_TYPES = frozenset(_IMMUTABLE)


def _immutable(obj: Any) -> bool:
    if type(obj) in _IMMUTABLE_TYPES:
        return True
    if isinstance(obj, tuple):
        return all(isinstance(v, _IMMUTABLE) for v in islice(obj, _MAX_CHILDREN))
    return isinstance(obj, _IMMUTABLE)


def _children(obj: Any) -> list:
    """The mutable objects ``obj`` holds one level down."""
    if isinstance(obj, _IMMUTABLE):
        return []
    try:
        if isinstance(obj, dict):
            values: Iterable = obj.values()
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            values = obj
        else:
            values = []
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict):
                values = list(islice(attrs.values(), _MAX_CHILDREN))
            base = getattr(obj, "base", None) if type(obj).__module__ == "numpy" else None
            if base is not None:  # a numpy view shares its base's memory
                values.append(base)
        return [v for v in islice(values, _MAX_CHILDREN) if not isinstance(v, _IMMUTABLE)]
    except Exception:  # a container changed size or an odd __getattr__: no children
        return []


def _related(mutated: set[str], deep: set[str], items: list[tuple[str, Any]]) -> set[str]:
    """Names whose value a mutation of ``mutated`` changes too: names bound to the same
    object, names holding it (closed upwards) and, for ``deep`` mutations, names bound to an
    object it holds."""
    objs = {k: v for k, v in items if not _immutable(v)}
    if not objs:
        return set()
    by_id: dict[int, set[str]] = {}
    holders: dict[int, set[str]] = {}
    for name, obj in objs.items():
        by_id.setdefault(id(obj), set()).add(name)
        for child in _children(obj):
            holders.setdefault(id(child), set()).add(name)
    found: set[str] = set()
    todo = [n for n in mutated if n in objs]
    for name in deep:
        if name in objs:
            for child in _children(objs[name]):
                todo.extend(by_id.get(id(child), ()))
                found |= by_id.get(id(child), set())
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        obj = objs.get(name, _MISSING)
        if obj is _MISSING:
            continue
        for other in set(by_id.get(id(obj), ())) | holders.get(id(obj), set()):
            if other not in seen:
                found.add(other)
                todo.append(other)
    return found - mutated


class HistoryBuilder:
    """Keeps the in-memory history of one kernel session and builds each new record."""

    def __init__(self, session_id: str = "", notebook_path: str = "") -> None:
        self.session_id = session_id
        self.notebook_path = notebook_path
        self.executions: list[Execution] = []
        self._deferred: dict[str, _Deferred] = {}
        self.modules: dict[str, str] = {}  # names bound to modules (or their functions)
        # After the first look at the whole namespace, only the names a cell rebound (and
        # the ones the cell before dropped from ``modules``) can newly hold a module: looking
        # at those alone keeps the cost per cell independent of the number of globals.
        self._learned = False
        self._relearn: set[str] = set()

    def _expand(
        self, names: set[str], calls: set[str]
    ) -> tuple[set[str], set[str], set[str], list[str]]:
        """Globals read / mutated / bound through functions defined earlier, and the code
        they run that the analysis cannot follow."""
        reads: set[str] = set()
        mutates: set[str] = set()
        binds: set[str] = set()
        unfollowed: list[str] = []
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
                unfollowed += [f"{r} in {name}()" for r in d.unfollowed]
            todo.extend((n, called) for n in d.reads if n in self._deferred)
        return reads, mutates, binds, unfollowed

    def _learn_modules(self, items: list[tuple[str, Any]]) -> None:
        """Names bound to modules, or to functions of modules, before recording started."""
        for name, obj in items:
            if name in self.modules:
                continue
            if isinstance(obj, types.ModuleType):
                self.modules[name] = obj.__name__
            elif isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
                module = getattr(obj, "__module__", None)
                if module and module not in ("__main__", "builtins"):
                    self.modules[name] = f"{module}.{getattr(obj, '__name__', name)}"

    def add(
        self,
        obs: Observation,
        notebook_path: str | None = None,
        alias_lookup: Callable[[set[str]], dict[str, frozenset[str]]] | None = None,
        namespace: Callable[[], list[tuple[str, Any]]] | None = None,
    ) -> Execution:
        """Build, keep and return the record of one observed execution. ``alias_lookup`` maps
        mutated names to the other global names bound to the same object; ``namespace`` (the
        user's names and objects, when the kernel is at hand) refines the static effects."""
        items = namespace() if namespace is not None else None
        objs: dict[str, Any] | None = None
        if items is not None:
            objs = dict(items)
            if not self._learned:
                self._learn_modules(items)
                self._learned = True
            else:
                changed = self._relearn | obs.rebound
                self._learn_modules([(k, objs[k]) for k in changed if k in objs])
        effects = analyze_source(obs.python_source or obs.source, modules=self.modules)
        ok = obs.status == "ok"
        rebound = {n for n in obs.rebound if not is_ipython_name(n)}
        deleted = {n for n in obs.deleted if not is_ipython_name(n)}
        self._relearn = effects.binds | deleted
        for name in self._relearn:
            self.modules.pop(name, None)
        self.modules.update(
            effects.imports if ok else {k: v for k, v in effects.imports.items() if k in rebound}
        )

        via_reads, via_mutates, via_binds, via_unfollowed = self._expand(
            effects.reads | effects.calls, effects.calls
        )
        reads = effects.reads | (via_reads - effects.binds)
        static_binds = effects.binds | via_binds
        binds = rebound | (static_binds if ok else static_binds & rebound)
        binds -= deleted
        mutates = set(effects.mutates) | via_mutates
        if not ok:  # a seeding call before the error may or may not have run
            mutates |= {n for n in static_binds if is_pseudo_name(n)}
        assumed = set(effects.assumed)
        if items is not None and objs is not None:
            for name in list(assumed):
                if name in objs and _immutable(objs[name]):
                    assumed.discard(name)
                    mutates.discard(name)
            for name in effects.consumed:  # iterating or passing an iterator advances it
                if name in objs and hasattr(type(objs[name]), "__next__"):
                    mutates.add(name)
            if mutates:
                related = _related(
                    {n for n in mutates if not is_pseudo_name(n)}, effects.deep | via_mutates, items
                )
                mutates |= related
                if not (effects.mutates - effects.assumed):  # only possible mutations
                    assumed |= related
        elif alias_lookup is not None and mutates:
            obs.aliases = {**obs.aliases, **alias_lookup(mutates)}
        for name in list(mutates):
            mutates |= obs.aliases.get(name, frozenset())
        mutates -= deleted
        assumed &= mutates
        cwd = os.getcwd() if items is not None else None
        reads, binds, mutates, deletes_static = (
            resolve_files(set(x), objs, cwd) for x in (reads, binds, mutates, effects.deletes)
        )
        files: dict[str, list[int]] = {}
        if cwd is not None:
            for name in reads | binds | mutates:
                if name.startswith("<file:"):
                    fp = fingerprint(name[6:-1])
                    if fp is not None:
                        files[name[6:-1]] = fp
        deletes = deleted | ((deletes_static if ok else deletes_static & deleted) - binds)
        reads = {n for n in reads if not is_ipython_name(n)}

        deferred: dict[str, list[str]] = {}
        for name in binds | deletes:
            if name in effects.deferred_reads and name in binds:
                d = _Deferred(
                    frozenset(effects.deferred_reads[name]),
                    frozenset(effects.deferred_mutates.get(name, ())),
                    frozenset(effects.deferred_binds.get(name, ())),
                    tuple(effects.deferred_unfollowed.get(name, ())),
                )
                self._deferred[name] = d
                deferred[name] = sorted(d.reads | d.mutates)
            else:
                self._deferred.pop(name, None)

        execution = Execution(
            seq=obs.seq,
            cell_id=obs.cell_id,
            source=obs.source,
            session_id=self.session_id,
            notebook_path=notebook_path if notebook_path is not None else self.notebook_path,
            execution_count=obs.execution_count,
            started_at=obs.started_at,
            ended_at=obs.ended_at,
            status=obs.status,
            error_type=obs.error_type,
            reads=frozenset(reads),
            binds=frozenset(binds),
            mutates=frozenset(mutates),
            deletes=frozenset(deletes),
            deferred=deferred,
            assumed=frozenset(assumed),
            files=files,
            unfollowed=tuple(dict.fromkeys(effects.unfollowed + via_unfollowed)),
        )
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
    return {n for n in live if not is_pseudo_name(n)}
