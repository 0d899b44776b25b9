"""The execution recorder: IPython ``pre_run_cell`` / ``post_run_cell`` hooks, cheap on purpose.

On the kernel's thread, per cell, the recorder only takes the time, the cell id
(``info.cell_id``, as JupyterLab and the shared runner send it) and the objects the user's global
names are bound to (references, no copies); after the cell it finds the names rebound or deleted
by comparing object identities (C-level ``map``/``compress``) and the names added by reading the
few keys at the end of the namespace dict (dicts keep insertion order). IPython's own growing
history names (``_i1``, ``_i2``... ``_1``...) are never looked at, so the cost depends on the
number of user globals, not on how many cells ran before. Everything else (IPython syntax transformation, ``ast``
analysis, alias lookup for in-place mutations, building the record, writing to the catalog) runs
on a background thread that batches inserts: no catalog round trip on the kernel thread.

The in-memory history (``recorder.builder.executions``) serves the analyses in the kernel.

Sessions: each start of a recorder is one kernel session, with a fresh id (a restarted kernel
keeps Jupyter's kernel id but is a new process, so a new session: its executions are never
merged into, or deduplicated against, the ones before). The background thread registers the
session in the catalog, with the kernel id, ``write_interval`` after the start, before any
cell has run, so the panel switches to it at once. A recorder started by ``%load_ext`` after
other cells notes how many ran before it and the names they left (``before_recording``).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from itertools import compress, islice, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any

from ..core.provenance.model import BeforeRecording, Execution, ExecutionLog, KernelSession
from ..core.provenance.recording import HistoryBuilder, Observation

if TYPE_CHECKING:
    from IPython.core.inputtransformer2 import TransformerManager

log = logging.getLogger("jupyter_mlinfra.provenance")

_IPYTHON_KEY = re.compile(
    r"^(_|__|___|_i|_ii|_iii|_i\d+|_\d+|_oh|_dh|_ih|In|Out|_mlinfra\w*"
    r"|open|exit|quit|get_ipython|__builtins?__|__session__)$"
)
_IMMUTABLE = (int, float, complex, str, bytes, bool, tuple, frozenset, type(None))
# The background thread works only when the kernel has been quiet for _QUIET seconds (or the
# backlog passes _MAX_BACKLOG cells, or an analysis asks): working while cells arrive back to back
# would make the kernel's thread wait for the GIL (up to the 5 ms switch interval) on every cell.
_POLL = 0.05
_QUIET = 0.03
_MAX_BACKLOG = 1000
_BATCH_SIZE = 500
_TRANSFORM_CACHE = 512


def kernel_id() -> str | None:
    """Jupyter's id of this kernel (from its connection file; the same across restarts), or
    None outside a Jupyter kernel."""
    try:
        from ipykernel.connect import get_connection_file

        match = re.search(r"kernel-(.+)\.json$", os.path.basename(get_connection_file()))
        if match:
            return match.group(1)
    except Exception:
        pass
    return None


def new_session_id() -> str:
    """A fresh id for one lifetime of this kernel process: a restart keeps the kernel id but
    is a new session, so it never merges with (or is deduplicated against) the one before."""
    return uuid.uuid4().hex


def fallback_cell_id(source: str) -> str:
    """A stable id for clients that send none: the same source gets the same id."""
    return "src-" + hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()[:12]


class ProvenanceRecorder:
    def __init__(
        self,
        shell,
        *,
        notebook_path: str | None = None,
        session_id: str | None = None,
        service_factory: Callable[[], Any] | None = None,
        write_to_catalog: bool = True,
    ) -> None:
        self.shell = shell
        self.ns: dict = shell.user_ns
        self.session_id = session_id or new_session_id()
        self.kernel_id = kernel_id()
        self.started_at = time.time()
        self._explicit_path = notebook_path
        self.builder = HistoryBuilder(self.session_id, notebook_path or "")
        self._service_factory = service_factory or _default_service
        self._service: Any = None
        self._write = write_to_catalog
        self._seq = 0
        # The user names the namespace diff watches (IPython's own _iN/_N/In/Out excluded).
        hidden = getattr(shell, "user_ns_hidden", {})
        self._names: list[str] = [
            k for k in list(self.ns) if k not in hidden and not _IPYTHON_KEY.match(k)
        ]
        self._tracked: set[str] = set(self._names)
        # Cells this kernel ran before the recorder started (``%load_ext`` in a later cell):
        # their count and the user names they left; reported once by the analyses.
        self.before_recording: BeforeRecording | None = None
        self._registered = False
        self._vals: list = []
        self._len0 = 0
        self._armed = False
        self._t0 = 0.0
        self._cell_id: str | None = None
        self._backlog: deque = deque()  # appended by the kernel thread, drained by the worker
        self._last_put = 0.0
        self._requests: deque = deque()  # ("flush", write, Event) / ("stop", None, None)
        self._wake = threading.Event()
        # Set by the worker when it has nothing left to do (all written): it then sleeps until
        # woken, not polling every _POLL seconds, so an idle kernel spends no CPU on it; the
        # first cell after that wakes it (one Event.set, not one per cell).
        self._idle = False
        self._thread: threading.Thread | None = None
        self._pending: list[Execution] = []
        self._last_write = time.monotonic()
        self._write_error: str | None = None
        self._transformer: TransformerManager | None = None
        self._transformed: dict[str, str] = {}  # raw cell -> IPython's Python for it
        self._handed_off: list[dict] = []
        self.written = 0
        # Seconds between two writes to the catalog once cells go quiet. A batch runner that
        # collects the records at the end (hand_off) raises it: the kernel of a short run
        # then never loads the catalog's database layer.
        self.write_interval = 0.3

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ProvenanceRecorder:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self._thread = threading.Thread(target=self._worker, name="mlinfra-provenance", daemon=True)
        self._thread.start()
        # A batch run's kernel exits right after its last cell: write what is still queued.
        atexit.register(self.stop)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        atexit.unregister(self.stop)
        for name, fn in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                self.shell.events.unregister(name, fn)
            except ValueError:
                pass
        if self._thread is not None:
            self._requests.append(("stop", False, None))
            self._wake.set()
            self._thread.join(timeout)
            self._thread = None

    # -- the hot path ---------------------------------------------------------------------------
    def pre_run_cell(self, info) -> None:
        self._cell_id = info.cell_id
        self._len0 = len(self.ns)
        # The objects the tracked user names are bound to: references only, C-level.
        self._vals = list(map(self.ns.get, self._names, repeat(_MISSING)))
        self._armed = True
        self._t0 = time.time()

    def post_run_cell(self, result) -> None:
        t1 = time.time()
        if not self._armed:  # the extension was loaded by this very cell
            return
        self._armed = False
        ns = self.ns
        names = self._names
        # Rebound or deleted user names: identity comparison, in C.
        rebound = list(
            compress(names, map(is_not, map(ns.get, names, repeat(_MISSING)), self._vals))
        )
        deleted = [k for k in rebound if k not in ns] if rebound else []
        # New keys: a dict keeps insertion order, so they are at its end (a few spare keys
        # are read to cover names deleted and re-added; known ones are filtered out).
        spare = len(ns) - self._len0 + len(deleted) + 2
        tracked = self._tracked
        added = [k for k in islice(reversed(ns), max(spare, 0)) if k not in tracked]
        if deleted:
            rebound = [k for k in rebound if k not in deleted]
            for k in deleted:
                tracked.discard(k)
                names.remove(k)
        for k in added:
            if not _IPYTHON_KEY.match(k):
                tracked.add(k)
                names.append(k)
                rebound.append(k)
        error = result.error_in_exec or result.error_before_exec
        self._seq += 1
        self._backlog.append(
            (
                self._seq,
                self._cell_id,
                result.info.raw_cell,
                self._t0,
                t1,
                result.execution_count,
                error,
                rebound,
                deleted,
            )
        )
        self._last_put = time.monotonic()
        if self._idle:
            self._idle = False
            self._wake.set()

    # -- the background thread -------------------------------------------------------------------
    def _notebook_path(self) -> str:
        if self._explicit_path:
            return self._explicit_path
        path = os.environ.get("JPY_SESSION_NAME") or self.ns.get("__session__")
        return str(path) if path else f"kernel:{self.session_id}"

    def _transform(self, source: str) -> str:
        # A cell run again (the usual way of working) is not transformed again.
        cached = self._transformed.get(source)
        if cached is not None:
            return cached
        try:
            if self._transformer is None:
                from IPython.core.inputtransformer2 import TransformerManager

                self._transformer = TransformerManager()
            python = self._transformer.transform_cell(source)
        except Exception:
            python = source
        if len(self._transformed) >= _TRANSFORM_CACHE:
            self._transformed.clear()
        self._transformed[source] = python
        return python

    def _aliases(self, names: set[str]) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        items = None
        for name in names:
            obj = self.ns.get(name, _MISSING)
            if obj is _MISSING or isinstance(obj, _IMMUTABLE):
                continue
            if items is None:  # the user's names only, not IPython's growing _iN/_N
                ns = self.ns
                items = [(k, ns.get(k)) for k in list(self._names)]
            same = frozenset(
                k for k, v in items if v is obj and k != name and not k.startswith("_")
            )
            if same:
                out[name] = same
        return out

    def _process(self, payload) -> Execution:
        seq, cell_id, raw, t0, t1, count, error, rebound, deleted = payload
        python = self._transform(raw)
        obs = Observation(
            seq=seq,
            cell_id=cell_id or fallback_cell_id(raw),
            source=raw,
            python_source=python,
            started_at=t0,
            ended_at=t1,
            execution_count=count,
            status="error" if error is not None else "ok",
            error_type=type(error).__name__ if error is not None else None,
            rebound=frozenset(rebound),
            deleted=frozenset(deleted),
        )
        path = self._notebook_path()
        self.builder.notebook_path = path
        return self.builder.add(
            obs, notebook_path=path, alias_lookup=self._aliases, namespace=self._user_items
        )

    def _user_items(self) -> list:
        """The user's (name, object) pairs (not IPython's growing _iN/_N), for the builder."""
        names = list(self._names)
        return list(zip(names, map(self.ns.get, names)))

    def _drain(self) -> None:
        while self._backlog:
            payload = self._backlog.popleft()
            try:
                self._pending.append(self._process(payload))
            except Exception:  # never let the recorder take the kernel down
                log.exception("jupyter_mlinfra: provenance recorder error")

    def _worker(self) -> None:
        while True:
            if self._idle:
                self._wake.wait()
                self._idle = False
            else:
                self._wake.wait(_POLL)
            self._wake.clear()
            requests = []
            while self._requests:
                requests.append(self._requests.popleft())
            stop = any(kind == "stop" for kind, _w, _d in requests)
            want_write = stop or any(w for _k, w, _d in requests)
            try:
                quiet = time.monotonic() - self._last_put >= _QUIET
                if requests or quiet or len(self._backlog) >= _MAX_BACKLOG:
                    self._drain()
                    if any(kind == "hand_off" for kind, _w, _d in requests):
                        self._handed_off = [e.to_dict() for e in self._pending]
                        self._pending.clear()
                    due = quiet and time.monotonic() - self._last_write >= self.write_interval
                    # The session is registered at the first write, which comes
                    # write_interval after the start even before any cell has run (a batch
                    # run, whose interval is long, registers nothing before its end).
                    register = not self._registered and not stop and self._write
                    if (self._pending or register) and (
                        want_write or due or len(self._pending) >= _BATCH_SIZE
                    ):
                        self._write_pending()
            except Exception:
                log.exception("jupyter_mlinfra: provenance recorder error")
            for _kind, _write, done in requests:
                if done is not None:
                    done.set()
            if stop:
                return
            if not self._pending and (self._registered or not self._write):
                # Nothing to write: sleep until a cell or a request comes. The backlog is
                # looked at after the flag is up, so a cell appended meanwhile is not missed
                # (post_run_cell appends, then sees the flag and wakes this thread).
                self._idle = True
                if self._backlog or self._requests:
                    self._idle = False

    def session(self) -> KernelSession:
        return KernelSession(
            session_id=self.session_id,
            notebook_path=self._notebook_path(),
            started_at=self.started_at,
            kernel_id=self.kernel_id,
            before_recording=self.before_recording,
        )

    def _register(self) -> None:
        """Store this kernel session in the catalog as soon as recording starts, so the
        panel switches to it at once after a restart, before the first cell runs."""
        if self._service is None:  # resolved once: not a config-file read per batch
            self._service = self._service_factory()
        self._service.register_session(self.session())
        self._registered = True

    def _write_pending(self) -> None:
        self._last_write = time.monotonic()
        if not self._write:
            self._pending.clear()
            return
        if not self._pending and self._registered:
            return
        batch = list(self._pending)
        try:
            if not self._registered:
                self._register()
            if not batch:
                return
            self.written += self._service.record(batch)
            del self._pending[: len(batch)]
            self._write_error = None
        except Exception as exc:
            if self._write_error is None:
                log.warning(
                    "jupyter_mlinfra: cannot write provenance to the catalog (%s); "
                    "keeping it in memory and retrying",
                    exc,
                )
            self._write_error = str(exc)
            if len(self._pending) > 10 * _BATCH_SIZE:
                del self._pending[: len(self._pending) - 10 * _BATCH_SIZE]

    # -- for the analyses -------------------------------------------------------------------------
    def flush(self, write: bool = False, timeout: float = 30.0) -> None:
        """Wait until every finished cell is in the in-memory history (and, with ``write``,
        in the catalog)."""
        if self._thread is None or threading.current_thread() is self._thread:
            return
        done = threading.Event()
        self._requests.append(("flush", write, done))
        self._wake.set()
        done.wait(timeout)

    def hand_off(self, timeout: float = 30.0) -> str:
        """Every finished cell's record not yet written, as JSON (a list of
        ``Execution.to_dict()``), taken out of this recorder: the batch runner that asks for
        them writes them to the catalog itself."""
        if self._thread is None:
            return "[]"
        done = threading.Event()
        self._requests.append(("hand_off", False, done))
        self._wake.set()
        done.wait(timeout)
        records, self._handed_off = self._handed_off, []
        return json.dumps(records)

    def log(self) -> ExecutionLog:
        self.flush()
        return ExecutionLog(
            executions=list(self.builder.executions),
            notebook_path=self._notebook_path(),
            session_id=self.session_id,
            before_recording=self.before_recording,
        )

    def live_names(self) -> set[str]:
        hidden = getattr(self.shell, "user_ns_hidden", {})
        return {k for k in list(self.ns) if not k.startswith("_") and k not in hidden}

    def status(self) -> dict:
        return {
            "session_id": self.session_id,
            "kernel_id": self.kernel_id,
            "notebook_path": self._notebook_path(),
            "executions": len(self.builder.executions),
            "written": self.written,
            "write_error": self._write_error,
        }


_MISSING = object()


def _default_service():
    """The catalog writer: plain ``sqlite3`` on a migrated SQLite catalog (no SQLAlchemy
    import in the kernel), else the provenance service."""
    from ..core.provenance.writer import open_writer
    from ..core.workspace import get_workspace

    return open_writer(get_workspace())


_recorder: ProvenanceRecorder | None = None


def get_recorder() -> ProvenanceRecorder | None:
    return _recorder


def hand_off() -> str:
    """The running recorder's unwritten records as JSON ("[]" when none records): what a
    batch runner evaluates in the kernel after the last cell."""
    return _recorder.hand_off() if _recorder is not None else "[]"


def start_recording(shell, **kwargs: Any) -> ProvenanceRecorder:
    """Start (once) the recorder for this shell; the LOAD_HOOK of the IPython extension."""
    global _recorder
    if _recorder is not None and _recorder.shell is shell:
        return _recorder
    if _recorder is not None:
        _recorder.stop()
    _recorder = ProvenanceRecorder(shell, **kwargs)
    # Loaded by a cell (``%load_ext`` after others), not at the kernel's start: the cells
    # before it ran unrecorded. (IPython counts the running cell already: N + 1 during cell N.)
    earlier = max(int(getattr(shell, "execution_count", 1) or 1) - 2, 0)
    if earlier:
        _recorder.before_recording = BeforeRecording(
            executions=earlier, names=frozenset(_recorder._names)
        )
    return _recorder.start()


def stop_recording(shell=None) -> None:
    global _recorder
    if _recorder is not None:
        _recorder.stop()
        _recorder = None
