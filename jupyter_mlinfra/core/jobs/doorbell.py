"""Waking the schedulers of other processes when a run is queued.

A process that queues a run (a kernel's ``%mlinfra run``, the CLI, another server) rings the
doorbells of the catalog's serving schedulers, so they dispatch the run at once instead of at
their next poll. A ring carries nothing the scheduler trusts: it only runs a pass earlier,
which reads the catalog as a poll would. Each catalog backend has its doorbell:

- SQLite (one host): a UDP socket bound to loopback, whose port the scheduler records in its
  catalog record; the submitting process sends a datagram to the live schedulers of its host.
- PostgreSQL (any host): ``LISTEN`` on a channel; the submitting process sends ``NOTIFY``.

A scheduler opens its doorbell with :func:`open_doorbell`; a submitting process rings them
all with :func:`ring_schedulers`.

The other way round, a process that follows runs another process's scheduler executes
(``run --wait`` while a scheduler serves the catalog) opens a run-end bell
(:func:`open_run_end_bell`), which a serving scheduler rings when a run ended
(:func:`ring_run_waiters`): it looks at the runs' states at once instead of at its next poll.
On SQLite the bell is a loopback socket whose port is a file name in the workspace home's
``run-waiters`` folder; on PostgreSQL a ``LISTEN`` on its own channel.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger("jupyter_mlinfra.jobs.doorbell")

RING = b"mlinfra-wake"
LOOPBACK = "127.0.0.1"
PG_CHANNEL = "mlinfra_jobs_wake"
PG_RUNS_ENDED_CHANNEL = "mlinfra_runs_ended"
WAITERS_FOLDER = "run-waiters"


class Doorbell:
    """A loopback UDP socket and the thread that calls ``on_ring`` for each ring."""

    def __init__(self, on_ring: Callable[[], None]) -> None:
        self._on_ring = on_ring
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((LOOPBACK, 0))
        self.port: int = self._socket.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._listen, name="mlinfra-doorbell", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while True:
            try:
                data = self._socket.recv(64)
            except OSError:
                return
            if self._closed:
                return
            if data == RING:  # anything else sent to this port is not ours: ignored
                self._on_ring()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # A thread blocked in recv() is not woken by close() on Linux: ring once more.
        ring([self.port])
        self._thread.join(5)
        self._socket.close()


def ring(ports: Iterable[int]) -> int:
    """Ring the doorbells on these loopback ports; returns how many were sent. Never raises:
    a scheduler that is gone simply misses the ring."""
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for port in ports:
            try:
                sock.sendto(RING, (LOOPBACK, int(port)))
                sent += 1
            except OSError as exc:
                log.debug("cannot ring the doorbell on port %s: %s", port, exc)
    return sent


class PostgresDoorbell:
    """``LISTEN`` on the catalog's PostgreSQL database, on a connection of its own; calls
    ``on_ring`` for each notification (and reconnects if the server restarts)."""

    port = None  # nothing to record: notifications reach every listener

    def __init__(self, url: str, on_ring: Callable[[], None], channel: str = PG_CHANNEL) -> None:
        from sqlalchemy.engine import make_url

        # psycopg takes the libpq URI; SQLAlchemy's names the driver ("postgresql+psycopg").
        self._conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._on_ring = on_ring
        self._channel = channel
        self._closed = False
        self._connection = self._listen_connection()  # fails here: a bad URL is told at once
        self._thread = threading.Thread(target=self._listen, name="mlinfra-doorbell", daemon=True)
        self._thread.start()

    def _listen_connection(self):
        import psycopg

        connection = psycopg.connect(self._conninfo, autocommit=True)
        connection.execute(f"LISTEN {self._channel}")
        return connection

    def _listen(self) -> None:
        import psycopg

        while not self._closed:
            try:
                if self._connection is None:
                    self._connection = self._listen_connection()
                # returns after the timeout, to look at _closed
                for _ in self._connection.notifies(timeout=1.0):
                    if self._closed:
                        return
                    self._on_ring()
            except psycopg.Error as exc:
                if self._closed:
                    return
                log.warning(
                    "scheduler doorbell: PostgreSQL connection lost (%s); the "
                    "scheduler polls until it is back",
                    exc,
                )
                self._drop_connection()
                time.sleep(2.0)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._thread.join(5)
        self._drop_connection()


def ring_schedulers(catalog) -> None:
    """Ring the doorbells of this catalog's schedulers in other processes. Never raises: the
    run is queued either way, and their next poll finds it."""
    try:
        if catalog.backend == "postgresql":
            from sqlalchemy import text

            with catalog.session() as s:
                s.execute(text("SELECT pg_notify(:channel, '')"), {"channel": PG_CHANNEL})
            return
        ring(_loopback_ports(catalog))
    except Exception as exc:
        log.warning("cannot ring the schedulers' doorbells: %s", exc)


def _loopback_ports(catalog) -> list[int]:
    """The doorbell ports of the live schedulers of this host, other than this process's
    (those are woken directly)."""
    from sqlalchemy import select

    from ..catalog.schema import utcnow
    from .tables import SchedulerRecord

    with catalog.read_session() as s:
        return list(
            s.scalars(
                select(SchedulerRecord.doorbell_port).where(
                    SchedulerRecord.host == os.uname().nodename,
                    SchedulerRecord.pid != os.getpid(),
                    SchedulerRecord.doorbell_port.is_not(None),
                    SchedulerRecord.expires_at > utcnow(),
                    SchedulerRecord.stopped_at.is_(None),
                )
            )
        )


def open_doorbell(catalog, on_ring: Callable[[], None]):
    """The doorbell of a scheduler on this catalog."""
    if catalog.backend == "postgresql":
        return PostgresDoorbell(catalog.url, on_ring)
    return Doorbell(on_ring)


class _WaiterBell:
    """A loopback doorbell listed in the workspace home's ``run-waiters`` folder (a file
    named ``<pid>-<port>``) while it is open."""

    def __init__(self, folder, on_ring: Callable[[], None]) -> None:
        self._bell = Doorbell(on_ring)
        self.port = self._bell.port
        folder.mkdir(parents=True, exist_ok=True)
        self._entry = folder / f"{os.getpid()}-{self.port}"
        try:
            self._entry.touch()
        except OSError:
            self._bell.close()
            raise

    def close(self) -> None:
        try:
            self._entry.unlink(missing_ok=True)
        finally:
            self._bell.close()


def open_run_end_bell(workspace, on_ring: Callable[[], None]):
    """The bell of a process that waits for runs executed by another process's scheduler:
    ``on_ring`` is called when that scheduler saw a run end. Close it when done."""
    catalog = workspace.catalog
    if catalog.backend == "postgresql":
        return PostgresDoorbell(catalog.url, on_ring, channel=PG_RUNS_ENDED_CHANNEL)
    return _WaiterBell(workspace.config.home / WAITERS_FOLDER, on_ring)


def ring_run_waiters(workspace) -> None:
    """Tell the processes waiting for runs (their run-end bells) that a run ended. Never
    raises: a waiter that misses it looks at its next poll. The entries of waiters whose
    process is gone are removed."""
    try:
        catalog = workspace.catalog
        if catalog.backend == "postgresql":
            from sqlalchemy import text

            with catalog.session() as s:
                s.execute(
                    text("SELECT pg_notify(:channel, '')"), {"channel": PG_RUNS_ENDED_CHANNEL}
                )
            return
        folder = workspace.config.home / WAITERS_FOLDER
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        ports = []
        for entry in entries:
            pid, _, port = entry.name.partition("-")
            if not (pid.isdigit() and port.isdigit()):
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:  # its process died without closing it
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                continue
            except PermissionError:  # another user's live process
                pass
            ports.append(int(port))
        ring(ports)
    except Exception as exc:
        log.warning("cannot ring the run waiters' bells: %s", exc)
