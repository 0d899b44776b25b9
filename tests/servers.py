"""Servers the tests start on loopback: a free port, a throwaway PostgreSQL server (the
``postgres_url`` fixture and ``make bench``'s run search on PostgreSQL both start theirs with
this)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pg_bindir() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``, or None when PostgreSQL is not installed."""
    try:
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    except (OSError, subprocess.CalledProcessError):
        pass
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        for version in sorted(root.iterdir(), reverse=True):
            if (version / "bin" / "initdb").exists():
                return version / "bin"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres(bindir: Path) -> Iterator[str]:
    """Start a new cluster in a temporary folder; yield its base URL (add ``/<database>``)."""
    folder = Path(tempfile.mkdtemp(prefix="mlinfra-pg-"))
    port = free_port()
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    def run(cmd: str) -> None:
        full = ["su", "postgres", "-c", cmd] if as_root else ["bash", "-c", cmd]
        subprocess.run(full, check=True, capture_output=True)

    if as_root:  # the server refuses to run as root
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    try:
        run(f"{bindir}/initdb -D {data} -A trust -U postgres")
        run(
            f'{bindir}/pg_ctl -D {data} -o "-k {folder} -p {port} '
            f'-c listen_addresses=127.0.0.1" -l {folder}/log -w start'
        )
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
        finally:
            run(f"{bindir}/pg_ctl -D {data} -m fast -w stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def create_database(base_url: str, name: str) -> str:
    """A new empty database on that server; its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(f"{base_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base_url}/{name}"
