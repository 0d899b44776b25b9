"""Hazards of a notebook given its execution history: stale, out-of-order, hidden state...

Input: the executions of one kernel session (in order) and the current notebook (cell ids and
sources, in notebook order). Output: a :class:`Report` whose JSON keys are ``stale``,
``stale_direct``, ``stale_transitive``, ``out_of_order``, ``hidden_state``, ``code_changed``,
``unexecuted``, ``reads_from_below`` and ``explanations`` (one plain sentence per finding).

**Which later executions make a cell stale (notebook order).** A cell is *directly stale* when,
after its last execution, a name it read (or an object reachable from that name) was rebound,
mutated in place or deleted by an execution of a cell positioned **above** it in the current
notebook, or by a cell that is no longer in the notebook. A cell that reads and updates the same
value (``x += 5``, ``acc.append(i)``, ``model.fit(X, y)``) is not stale after its own re-run:
only the cells that read the value before its latest update are. A later execution of a cell positioned
**below** does not make it stale: running the notebook top to bottom would also have given the
upper cell the old value, so the kernel still matches the notebook there. (Reading a value that
a cell below produced is a different hazard, reported as ``reads_from_below``.) This keeps the
common pattern ``df = load()`` / ``n = len(df)`` / ``df = df.dropna()`` free of false alarms.

A cell is *transitively stale* when it is not directly stale but read a name whose producing
execution is the last execution of a stale cell.

An edited-but-not-rerun cell is reported as ``code_changed`` only: its stored effects are those
of the source it ran, so the edit alone makes nothing stale.

Length (over ~500 lines): one analysis pass over an execution history (stale, out of order, hidden state, before-recording findings share its state and are read together).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .model import BeforeRecording, Execution, NotebookCell
from .names import BUILTIN_NAMES, analyze_source, file_path, is_pseudo_name, pseudo_label
from .recording import fingerprint, is_ipython_name, live_names_from_history

_KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _num(e: Execution) -> str:
    """An execution as the user sees it in JupyterLab: the count its prompt showed, ``[12]``
    (the recorder's sequence number, ``#12``, when the count is unknown)."""
    return f"[{e.execution_count}]" if e.execution_count is not None else f"#{e.seq}"


def _name(name: str) -> str:
    return pseudo_label(name) if is_pseudo_name(name) else f"`{name}`"


def _fmt_names(names: Iterable[str]) -> str:
    names = sorted(names)
    quoted = [_name(n) for n in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


@dataclass
class Finding:
    kind: str
    message: str
    cell_id: str | None = None
    names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cell_id": self.cell_id,
            "names": self.names,
            "message": self.message,
        }


# The finding kinds that make a result's generating state non-reproducible: the ``clean``
# flag of ``dependencies()`` and the model store's dirty-state guard both use this set.
DIRTY_KINDS = frozenset(
    {
        "stale_direct",
        "stale_transitive",
        "out_of_order",
        "code_changed",
        "hidden_state",
        "deleted_cell",
        "reads_from_below",
        "unfollowed",
        "before_recording",
    }
)


@dataclass
class Report:
    stale_direct: list[str] = field(default_factory=list)
    stale_transitive: list[str] = field(default_factory=list)
    out_of_order: bool = False
    hidden_state: list[str] = field(default_factory=list)
    hidden_state_cells: list[str] = field(default_factory=list)
    code_changed: list[str] = field(default_factory=list)
    unexecuted: list[str] = field(default_factory=list)
    reads_from_below: list[str] = field(default_factory=list)
    unfollowed: list[str] = field(default_factory=list)  # cells running code not followed
    # executions the kernel ran before recording started (0: recorded from its first cell)
    before_recording: int = 0
    explanations: list[Finding] = field(default_factory=list)
    notebook_path: str = ""
    session_id: str = ""
    executions: int = 0

    @property
    def stale(self) -> list[str]:
        both = set(self.stale_direct) | set(self.stale_transitive)
        return [c for c in self._order if c in both]

    _order: list[str] = field(default_factory=list, repr=False)

    @property
    def clean(self) -> bool:
        return not (
            self.stale
            or self.out_of_order
            or self.hidden_state
            or self.hidden_state_cells
            or self.code_changed
            or self.unexecuted
            or self.reads_from_below
            or self.unfollowed
            or self.before_recording
        )

    def to_text(self) -> str:
        head = (
            f"provenance check of {self.notebook_path or 'the notebook'}: "
            f"{self.executions} executions"
        )
        if self.clean:
            return head + "\nNo hazards: the kernel state matches the notebook run top to bottom."
        lines = [head]
        for finding in self.explanations:
            lines.append(f"  - [{finding.kind}] {finding.message}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(self.to_text())

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook_path": self.notebook_path,
            "session_id": self.session_id,
            "executions": self.executions,
            "clean": self.clean,
            "stale": self.stale,
            "stale_direct": self.stale_direct,
            "stale_transitive": self.stale_transitive,
            "out_of_order": self.out_of_order,
            "hidden_state": self.hidden_state,
            "hidden_state_cells": self.hidden_state_cells,
            "code_changed": self.code_changed,
            "unexecuted": self.unexecuted,
            "reads_from_below": self.reads_from_below,
            "unfollowed": self.unfollowed,
            "before_recording": self.before_recording,
            "explanations": [f.to_dict() for f in self.explanations],
        }


class History:
    """Indexes over one session's executions, shared by the analyses and the replay slice."""

    def __init__(self, executions: list[Execution]) -> None:
        self.executions = sorted(executions, key=lambda e: e.seq)
        self.last: dict[str, Execution] = {}
        for e in self.executions:
            self.last[e.cell_id] = e
        # producers[seq][name]: the executions whose effects make up the value `name` had when
        # execution `seq` read it (the last binder and the in-place mutations since).
        self.producers: dict[int, dict[str, list[Execution]]] = {}
        # writes_after: name -> executions writing it, in order
        self.writers: dict[str, list[Execution]] = {}
        state: dict[str, list[Execution]] = {}
        for e in self.executions:
            self.producers[e.seq] = {n: list(state.get(n, ())) for n in e.reads}
            for n in e.binds:
                state[n] = [e]
            for n in e.mutates - e.binds:
                state.setdefault(n, []).append(e)
            for n in e.deletes:
                state[n] = []
            for n in e.writes:
                self.writers.setdefault(n, []).append(e)

    def writes_after(self, name: str, seq: int) -> list[Execution]:
        return [w for w in self.writers.get(name, ()) if w.seq > seq]


def analyze(
    executions: list[Execution],
    cells: list[NotebookCell],
    *,
    live_names: Iterable[str] | None = None,
    notebook_path: str = "",
    check_files: bool = True,
    session_id: str = "",
    before_recording: BeforeRecording | None = None,
) -> Report:
    """The hazard report for a notebook (``cells``) given a session's ``executions``.

    ``live_names``: the user's global names in the kernel right now, when the kernel is at hand;
    otherwise they are reconstructed from the history. ``check_files``: compare the files the
    executions read with their content on disk now (size and mtime). ``before_recording``: what the kernel
    ran before recording started; reported as one finding, and the names those executions
    left are not hidden state.
    """
    history = History(executions)
    code_cells = [c for c in cells if c.cell_type == "code"]
    pos = {c.id: i for i, c in enumerate(cells)}
    label = {c.id: f"cell {i + 1}" for i, c in enumerate(cells)}
    report = Report(
        notebook_path=notebook_path, session_id=session_id, executions=len(history.executions)
    )
    report._order = [c.id for c in cells]

    def who(e: Execution) -> str:
        if e.cell_id in label:
            return label[e.cell_id]
        return f"a deleted cell (execution {_num(e)})"

    executed = [c for c in code_cells if c.id in history.last]

    # code_changed ---------------------------------------------------------------------------
    for c in executed:
        if _norm(c.source) != _norm(history.last[c.id].source):
            report.code_changed.append(c.id)
            report.explanations.append(
                Finding(
                    "code_changed",
                    f"{label[c.id]} was edited after it last ran (execution "
                    f"{_num(history.last[c.id])}); the kernel holds the effects of the old source.",
                    c.id,
                )
            )

    # stale (direct) ---------------------------------------------------------------------------
    # files whose content on disk is not what the last recorded execution touching them saw:
    # written outside the notebook's recorded cells (a missing file is not news: the log may
    # be checked on another machine)
    on_disk_changed: set[str] = set()
    if check_files:
        seen: dict[str, list[int]] = {}
        for e in history.executions:
            seen.update(e.files)
        on_disk_changed = {
            p for p, fp in seen.items() if (now := fingerprint(p)) is not None and now != list(fp)
        }
    stale: set[str] = set()
    for c in executed:
        last = history.last[c.id]
        culprits: dict[str, list[Execution]] = {}
        for name in sorted(last.reads):
            for w in history.writes_after(name, last.seq):
                if w.cell_id not in pos or pos[w.cell_id] < pos[c.id]:
                    culprits.setdefault(name, []).append(w)
        outside = sorted(
            n for n in last.reads if file_path(n) in on_disk_changed and n not in culprits
        )
        if not culprits and not outside:
            continue
        stale.add(c.id)
        report.stale_direct.append(c.id)
        parts = []
        for name in outside:
            parts.append(
                f"{_name(name)}, which changed on disk after {label[c.id]} ran "
                f"(written outside the notebook's recorded cells)"
            )
        for name, writers in culprits.items():
            w = writers[-1]
            verb = (
                "deleted"
                if name in w.deletes
                else "may have changed"
                if name in w.assumed
                else "wrote"
                if file_path(name) and name in w.binds
                else "appended to"
                if file_path(name)
                else "rebound"
                if name in w.binds and name not in w.mutates
                else "mutated"
                if name in w.mutates and name not in w.binds
                else "changed"
            )
            parts.append(
                f"{_name(name)}, which {who(w)} {verb} after {label[c.id]} ran "
                f"(execution {_num(w)} > {_num(last)})"
            )
        report.explanations.append(
            Finding(
                "stale_direct",
                f"{label[c.id]} is stale: it read " + "; and ".join(parts) + ".",
                c.id,
                sorted(set(culprits) | set(outside)),
            )
        )

    # stale (transitive), in order of last execution -------------------------------------------
    for c in sorted(executed, key=lambda c: history.last[c.id].seq):
        if c.id in stale:
            continue
        last = history.last[c.id]
        for name in sorted(last.reads):
            sources = [
                p
                for p in history.producers[last.seq].get(name, ())
                if history.last.get(p.cell_id) is p and p.cell_id in stale and p.cell_id != c.id
            ]
            if sources:
                stale.add(c.id)
                report.stale_transitive.append(c.id)
                report.explanations.append(
                    Finding(
                        "stale_transitive",
                        f"{label[c.id]} is stale: it read {_name(name)}, produced by "
                        f"{who(sources[-1])}, which is itself stale.",
                        c.id,
                        [name],
                    )
                )
                break
    report.stale_transitive.sort(key=lambda cid: pos[cid])

    # out_of_order -----------------------------------------------------------------------------
    seqs = [(c, history.last[c.id].seq) for c in executed]
    inversions = [(a, b) for (a, sa), (b, sb) in zip(seqs, seqs[1:]) if sb <= sa]
    if inversions:
        report.out_of_order = True
        a, b = inversions[0]
        more = f" ({len(inversions)} such pairs)" if len(inversions) > 1 else ""
        report.explanations.append(
            Finding(
                "out_of_order",
                f"Cells ran out of order: {label[b.id]} last ran as execution "
                f"{_num(history.last[b.id])}, before {label[a.id]} above it "
                f"({_num(history.last[a.id])}){more}.",
                b.id,
            )
        )

    # unexecuted -----------------------------------------------------------------------------
    if executed:
        first, last_pos = pos[executed[0].id], pos[executed[-1].id]
        for c in code_cells:
            if first < pos[c.id] < last_pos and c.id not in history.last and c.source.strip():
                report.unexecuted.append(c.id)
                report.explanations.append(
                    Finding(
                        "unexecuted",
                        f"{label[c.id]} was never run, but cells above and below it were.",
                        c.id,
                    )
                )

    # reads_from_below -----------------------------------------------------------------------
    for c in executed:
        last = history.last[c.id]
        below: dict[str, Execution] = {}
        for name, producers in history.producers[last.seq].items():
            for p in producers:
                if p.cell_id in pos and p.cell_id != c.id and pos[p.cell_id] > pos[c.id]:
                    below[name] = p
        if below:
            report.reads_from_below.append(c.id)
            name, p = sorted(below.items())[0]
            others = sorted(set(below) - {name})
            extra = f" (also {_fmt_names(others)})" if others else ""
            report.explanations.append(
                Finding(
                    "reads_from_below",
                    f"{label[c.id]} read {_name(name)}, produced by {label[p.cell_id]} below it"
                    f"{extra}; run top to bottom, it would not exist yet or hold another value.",
                    c.id,
                    sorted(below),
                )
            )

    # hidden state ---------------------------------------------------------------------------
    live = (
        set(live_names) if live_names is not None else live_names_from_history(history.executions)
    )
    live = {
        n
        for n in live
        if not n.startswith("_")
        and n not in BUILTIN_NAMES
        and n not in _KERNEL_NAMES
        and not is_ipython_name(n)
        and not is_pseudo_name(n)
    }
    if before_recording is not None and before_recording.executions:
        earlier = before_recording.names
        rebound = (
            set().union(*(e.writes for e in history.executions)) if history.executions else set()
        )
        left = sorted(earlier - rebound)  # names still holding what those executions made
        live -= set(left)  # reported by the finding below, not as hidden state
        report.before_recording = before_recording.executions
        count = before_recording.executions
        report.explanations.append(
            Finding(
                "before_recording",
                f"{count} execution{'s' if count != 1 else ''} ran before recording started (the "
                f"extension was loaded after them): results may depend on them"
                + (
                    f"; they left {_fmt_names(left[:8])}" + (" and more" if len(left) > 8 else "")
                    if left
                    else ""
                )
                + ". Restart the kernel and run the notebook to record "
                "everything.",
                None,
                left,
            )
        )
    bound_by_cells: set[str] = set()
    for c in code_cells:
        effects_now = analyze_source(c.source)
        bound_by_cells |= effects_now.binds
        last_run = history.last.get(c.id)
        if last_run is not None and _norm(last_run.source) == _norm(c.source):
            bound_by_cells |= last_run.binds  # star imports, globals()[...], dynamic binds
        elif last_run is not None and effects_now.star_imports:
            # an edited cell that still star-imports the same modules still defines the names
            # its last run took from them (the edit itself is one code_changed finding)
            then = analyze_source(last_run.source)
            if then.star_imports and then.star_imports <= effects_now.star_imports:
                bound_by_cells |= last_run.binds - then.binds
    hidden = sorted(live - bound_by_cells)
    report.hidden_state = hidden
    if hidden:
        makers = {}
        for hidden_name in hidden:
            ws = [w for w in history.writers.get(hidden_name, []) if hidden_name in w.binds]
            if ws:
                makers[hidden_name] = ws[-1]
        detail = "; ".join(f"`{h}` came from {who(makers[h])}" for h in hidden if h in makers)
        report.explanations.append(
            Finding(
                "hidden_state",
                f"{_fmt_names(hidden)} live{'s' if len(hidden) == 1 else ''} in the kernel but no "
                f"cell of the notebook defines {'it' if len(hidden) == 1 else 'them'}"
                + (f" ({detail})" if detail else "")
                + "; a fresh run would not have "
                + ("it." if len(hidden) == 1 else "them."),
                None,
                hidden,
            )
        )
    hidden_set = set(hidden)
    for c in executed:
        last = history.last[c.id]
        names = set()
        for name in last.reads:
            producers = history.producers[last.seq].get(name, [])
            if name in hidden_set or any(p.cell_id not in pos for p in producers):
                if (
                    before_recording is not None
                    and name in before_recording.names
                    and not producers
                ):
                    continue  # bound before recording started: the finding above
                names.add(name)
        if names:
            report.hidden_state_cells.append(c.id)
            report.explanations.append(
                Finding(
                    "hidden_state",
                    f"{label[c.id]} read {_fmt_names(names)}, which no cell of the notebook "
                    f"produces now (hidden state or a deleted cell).",
                    c.id,
                    sorted(names),
                )
            )

    # unfollowed -------------------------------------------------------------------------------
    for c in executed:
        last = history.last[c.id]
        if last.unfollowed:
            report.unfollowed.append(c.id)
            what = ", ".join(f"`{u}`" for u in last.unfollowed)
            report.explanations.append(
                Finding(
                    "unfollowed",
                    f"{label[c.id]} runs {what}, whose effects provenance cannot follow: results "
                    f"that depend on it may not replay exactly (a replay keeps it and every "
                    f"execution before it).",
                    c.id,
                )
            )

    order = {
        "unfollowed": 8,
        "code_changed": 3,
        "stale_direct": 0,
        "stale_transitive": 1,
        "out_of_order": 2,
        "hidden_state": 4,
        "reads_from_below": 5,
        "unexecuted": 6,
        "before_recording": 7,
    }
    report.explanations.sort(key=lambda f: (order.get(f.kind, 9), pos.get(f.cell_id or "", -1)))
    return report


def affecting(report: Report, cell_ids: Iterable[str]) -> list[Finding]:
    """The findings about the given cells, plus notebook-wide ones (out of order, hidden names)."""
    wanted = set(cell_ids)
    return [
        f
        for f in report.explanations
        if f.cell_id is None or f.cell_id in wanted or f.kind == "out_of_order"
    ]
