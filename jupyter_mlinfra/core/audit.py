"""The audit log: who did what to shared state, and which changes were refused.

One row per action (``mlinfra_audit``, migration ``0012_audit``): when, who (user and roles),
the action (``models.alias``, ``jobs.cancel`` ...: the kind of the shared write), its target,
a one-line detail and the outcome (``ok``, ``denied``, ``failed``).

Every write to shared state goes through :func:`~.shared_writes.shared_write`, which runs the
method inside :func:`action`. The first catalog transaction the method commits carries the
audit row (:func:`attach`, called by :meth:`Catalog.session <.catalog.database.Catalog.session>`
just before the commit), so a change is never committed without its audit line. A change the
rule of :mod:`.identity` refuses (``PermissionDenied``) is recorded with outcome ``denied`` in
its own transaction, after the refused one rolled back. A write that touched no catalog table
(files only) is recorded once it has returned; one that failed after its audit row was
committed is marked ``failed``.

Reading (:func:`query`): a role that reads everything (``admin``, ``auditor``) reads every
entry; anyone else reads their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import times
from .catalog.schema import Base, UTCDateTime, utcnow
from .errors import InvalidInput, PermissionDenied, quote
from .identity import Identity
from .paging import PageRequest, encode_cursor, envelope, keyset

log = logging.getLogger("jupyter_mlinfra.audit")

OUTCOMES = ("ok", "denied", "failed")
_LIMITS = {"user": 128, "roles": 200, "action": 64, "target": 500, "detail": 2000}


class AuditEntry(Base):
    __tablename__ = "mlinfra_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[str] = mapped_column(String(128))
    roles: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))
    detail: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))


def entry_to_dict(row: AuditEntry) -> dict:
    return {
        "id": row.id,
        "at": times.to_iso_z(row.at),
        "user": row.user,
        "roles": [r for r in row.roles.split(",") if r],
        "action": row.action,
        "target": row.target,
        "detail": row.detail,
        "outcome": row.outcome,
    }


def _cut(value: Any, field: str) -> str:
    text = "" if value is None else str(value)
    limit = _LIMITS[field]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(identity: Identity, action: str, target: Any, detail: Any, outcome: str) -> AuditEntry:
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {OUTCOMES}, got {outcome!r}")
    return AuditEntry(
        at=utcnow(),
        user=_cut(identity.user, "user"),
        roles=_cut(",".join(sorted(identity.roles)), "roles"),
        action=_cut(action, "action"),
        target=_cut(target, "target"),
        detail=_cut(detail, "detail"),
        outcome=outcome,
    )


def record(
    identity: Identity,
    action: str,
    target: Any,
    detail: Any = "",
    outcome: str = "ok",
    *,
    session: Session | None = None,
    catalog: Any = None,
) -> int:
    """Add one audit entry: in ``session`` (the transaction of the change it records: it
    commits or rolls back with it), else in a transaction of its own on ``catalog``.
    Returns the entry's id."""
    row = _row(identity, action, target, detail, outcome)
    if session is not None:
        session.add(row)
        session.flush()
        return row.id
    if catalog is None:
        raise ValueError("audit.record needs a session or a catalog")
    with catalog.session() as s:
        s.add(row)
        s.flush()
        return row.id


# -- the action in progress -------------------------------------------------------------------
@dataclass
class _Pending:
    identity: Identity
    action: str
    target: str
    detail: str
    workspace: Any
    entry_id: int | None = None

    @property
    def catalog(self):
        return self.workspace.catalog


_pending: ContextVar[_Pending | None] = ContextVar("mlinfra_audit_pending", default=None)


@contextmanager
def action(workspace: Any, action: str, target: Any, detail: Any = "") -> Iterator[None]:
    """Record the shared write that runs inside: in the first catalog transaction it commits
    (see :func:`attach`), as ``denied`` when it raises PermissionDenied, as ``failed`` when
    it raises after its entry was committed. A write nested in another one (a job run that
    submits a run) is part of the outer one's entry."""
    if _pending.get() is not None:
        yield
        return
    pending = _Pending(
        workspace.identity, action, _cut(target, "target"), _cut(detail, "detail"), workspace
    )
    token = _pending.set(pending)
    reset = False  # the context is restored once, by the branch that ran
    try:
        yield
    except PermissionDenied as exc:
        _pending.reset(token)
        reset = True
        detail = f"{pending.detail}: refused: {exc.message}"
        if pending.entry_id is None:
            _record_apart(pending, detail, "denied")
        else:  # refused after a first transaction committed
            _mark(pending, "denied", detail)
        raise
    except BaseException as exc:
        _pending.reset(token)
        reset = True
        if pending.entry_id is not None:  # committed with a first transaction, then failed
            reason = getattr(exc, "message", None) or type(exc).__name__
            _mark(pending, "failed", f"{pending.detail}: failed: {reason}")
        raise
    else:
        _pending.reset(token)
        reset = True
        if pending.entry_id is None:  # the write touched no catalog table
            _record_apart(pending, pending.detail, "ok")
    finally:
        if not reset:
            _pending.reset(token)


def attach(session: Session, catalog: Any) -> None:
    """Add the audit entry of the write in progress (if any, not yet recorded, on this
    catalog) to ``session``, the transaction about to commit (called by ``Catalog.session``)."""
    pending = _pending.get()
    if pending is None or pending.entry_id is not None:
        return
    workspace_catalog = getattr(pending.workspace, "_catalog", None)
    if (
        workspace_catalog is not None
        and workspace_catalog is not catalog
        and getattr(workspace_catalog, "url", None) != getattr(catalog, "url", None)
    ):
        return  # a write to some other catalog
    pending.entry_id = record(
        pending.identity, pending.action, pending.target, pending.detail, "ok", session=session
    )


def _record_apart(pending: _Pending, detail: str, outcome: str) -> None:
    try:
        record(
            pending.identity,
            pending.action,
            pending.target,
            detail,
            outcome,
            catalog=pending.catalog,
        )
    except Exception:  # the refusal stands (or the file-only write is done) either way
        log.warning(
            "could not write the audit entry for %s %s by %s",
            pending.action,
            pending.target,
            pending.identity.user,
            exc_info=True,
        )


def _mark(pending: _Pending, outcome: str, detail: str) -> None:
    try:
        with pending.catalog.session() as s:
            s.execute(
                update(AuditEntry)
                .where(AuditEntry.id == pending.entry_id)
                .values(outcome=outcome, detail=_cut(detail, "detail"))
            )
    except Exception:
        log.warning("could not mark audit entry %s %s", pending.entry_id, outcome, exc_info=True)


# -- reading ------------------------------------------------------------------------------------
def query(
    workspace: Any,
    *,
    user: str | None = None,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    limit: Any = None,
    offset: Any = None,
    cursor: str | None = None,
) -> dict:
    """Audit entries, newest first, with filters: ``user`` (exact), ``action`` (exact, or a
    capability such as ``models`` for all its actions), ``target`` (contains), ``outcome``,
    ``since`` (included) / ``until`` (excluded) as ISO 8601 times (UTC when no offset).

    Pages like every list (:mod:`.paging`): {"items", "total", "total_exact", "limit",
    "offset", "next_cursor"}. A role that reads everything (admin, auditor) reads every
    user's entries; anyone else only their own (asking for another user's is refused)."""
    remote = getattr(workspace, "remote", None)
    if remote is not None:  # remote mode: the service answers, for the Hub's user
        return remote.get(
            "audit",
            user=user,
            action=action,
            target=target,
            outcome=outcome,
            since=times.to_iso_z(times.parse(since, "since")),
            until=times.to_iso_z(times.parse(until, "until")),
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    identity: Identity = workspace.identity
    request = PageRequest.of(limit, offset, cursor)
    after = request.after(1)
    if outcome and outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}, got {quote(outcome)}")
    if not identity.allows("read"):
        if user and user != identity.user:
            raise PermissionDenied(
                f"the audit log of {quote(user)} is for admins and "
                f"auditors; you can read your own entries"
            )
        user = identity.user
    since_at, until_at = times.parse(since, "since"), times.parse(until, "until")
    stmt = select(AuditEntry)
    if user:
        stmt = stmt.where(AuditEntry.user == user)
    if action:
        stmt = stmt.where(
            or_(
                AuditEntry.action == action,
                AuditEntry.action.startswith(action + ".", autoescape=True),
            )
        )
    if target:
        stmt = stmt.where(AuditEntry.target.contains(target, autoescape=True))
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if since_at is not None:
        stmt = stmt.where(AuditEntry.at >= since_at)
    if until_at is not None:
        stmt = stmt.where(AuditEntry.at < until_at)
    with workspace.catalog.read_session() as s:
        total = (
            s.scalar(
                select(func.count()).select_from(stmt.with_only_columns(AuditEntry.id).subquery())
            )
            or 0
        )
        page = keyset(stmt, [AuditEntry.id], after, descending=True)
        rows = list(
            s.scalars(page.limit(request.limit + 1).offset(request.offset if after is None else 0))
        )
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    return envelope(
        [entry_to_dict(r) for r in rows],
        total=total,
        limit=request.limit,
        offset=request.offset,
        next_cursor=encode_cursor([rows[-1].id]) if more and rows else None,
    )


__all__ = ["AuditEntry", "OUTCOMES", "action", "attach", "entry_to_dict", "query", "record"]
