"""Per-user run quotas: the ones in force (published in the catalog by the deployment's
servers and schedulers, else this process's configuration) and the queue check every
submission makes in the transaction that inserts its runs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..catalog.schema import CatalogInfo, utcnow
from ..errors import QuotaExceeded
from ..times import to_iso_z
from .states import PENDING_STATES
from .tables import Run

# the catalog info key holding the quotas of the deployment (see publish_quotas)
QUOTAS_KEY = "jobs_quotas"
# PostgreSQL advisory locks of queue quotas: (this namespace, hashtext(owner))
_PG_QUEUE_LOCK_NAMESPACE = 0x6D6C6A71


def configured_quotas(settings: Any) -> dict:
    """The quotas of this process's own configuration."""
    return {
        "max_running_per_user": int(settings.jobs_max_running_per_user or 0),
        "max_queued_per_user": int(settings.jobs_max_queued_per_user or 0),
        "user_quotas": {
            str(user): {
                k: int(v or 0)
                for k, v in dict(q or {}).items()
                if k in ("max_running", "max_queued")
            }
            for user, q in dict(settings.jobs_user_quotas or {}).items()
        },
    }


def publish_quotas(ws, by: str = "") -> dict:
    """Write this process's quota settings into the catalog, where every submission and
    every scheduler reads them."""
    quotas = {
        **configured_quotas(ws.config.settings),
        "published_by": by or ws.user,
        "published_at": to_iso_z(utcnow()),
    }
    with ws.catalog.session() as s:
        row = s.get(CatalogInfo, QUOTAS_KEY, with_for_update=True)
        if row is None:
            s.add(CatalogInfo(key=QUOTAS_KEY, value=json.dumps(quotas), updated_at=utcnow()))
        else:
            row.value, row.updated_at = json.dumps(quotas), utcnow()
    return quotas


def quotas_in_force(ws, s: Session | None = None) -> dict:
    """Those published in the catalog (``source: catalog``), or, on a catalog where no
    server or scheduler published any, this process's own configuration (``source:
    local``)."""
    if s is None:
        with ws.catalog.read_session() as rs:
            return quotas_in_force(ws, rs)
    row = s.get(CatalogInfo, QUOTAS_KEY)
    if row is not None:
        try:
            return {**json.loads(row.value), "source": "catalog"}
        except ValueError:
            pass
    return {**configured_quotas(ws.config.settings), "source": "local"}


def quota_for(user: str, quotas: dict) -> dict[str, int]:
    """``user``'s max_running and max_queued (0: no limit) under ``quotas``."""
    out = {
        "max_running": int(quotas.get("max_running_per_user") or 0),
        "max_queued": int(quotas.get("max_queued_per_user") or 0),
    }
    override = (quotas.get("user_quotas") or {}).get(user) or {}
    for key in out:
        if key in override:
            out[key] = int(override[key] or 0)
    return out


def check_queue_quota(ws, s: Session, adding_by_owner: dict[str, int]) -> None:
    """Refuse (QuotaExceeded) runs that would take an owner past ``max_queued``. The count
    and the caller's insert are one transaction that holds the owner's queue lock until it
    commits (SQLite: its write lock, taken at BEGIN IMMEDIATE; PostgreSQL: a
    transaction-level advisory lock per owner), so concurrent submissions cannot all pass
    the same count."""
    quotas = quotas_in_force(ws, s)
    for who in sorted(adding_by_owner):  # one order: no deadlock between owners
        n = adding_by_owner[who]
        limit = quota_for(who, quotas)["max_queued"]
        if not limit or not n:
            continue
        if ws.catalog.backend == "postgresql":
            s.execute(
                text("SELECT pg_advisory_xact_lock(:ns, hashtext(:owner))"),
                {"ns": _PG_QUEUE_LOCK_NAMESPACE, "owner": who},
            )
        pending = (
            s.scalar(
                select(func.count())
                .select_from(Run)
                .where(Run.owner == who, Run.state.in_(list(PENDING_STATES)))
            )
            or 0
        )
        if pending + n > limit:
            raise QuotaExceeded(
                f"quota max_queued exceeded for {who}: {pending} run(s) already queued or "
                f"waiting, {n} more would pass the limit of {limit}",
                details={"quota": "max_queued", "limit": limit, "current": pending, "requested": n},
            )
