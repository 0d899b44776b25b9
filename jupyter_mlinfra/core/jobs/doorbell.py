"""Waking a scheduler from another process of its host.

A serving scheduler listens on a UDP socket bound to loopback (its *doorbell*) and records the
port in its catalog record. A process that queues a run (a kernel's ``%mlinfra run``, the CLI,
another server) rings the doorbells of the live schedulers of its host, so they dispatch the
run at once instead of at their next poll. A ring carries no data the scheduler trusts: it only
runs a pass earlier, which reads the catalog as a poll would. Schedulers on other hosts (a
shared PostgreSQL catalog) are not rung and still find the run at their next poll.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Callable, Iterable

log = logging.getLogger("jupyter_mlinfra.jobs.doorbell")

RING = b"mlinfra-wake"
LOOPBACK = "127.0.0.1"


class Doorbell:
    """A loopback UDP socket and the thread that calls ``on_ring`` for each ring."""

    def __init__(self, on_ring: Callable[[], None]) -> None:
        self._on_ring = on_ring
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((LOOPBACK, 0))
        self.port: int = self._socket.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._listen, name="mlinfra-doorbell",
                                        daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while True:
            try:
                data = self._socket.recv(64)
            except OSError:
                return
            if self._closed:
                return
            if data == RING:    # anything else sent to this port is not ours: ignored
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
