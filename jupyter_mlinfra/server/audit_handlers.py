"""REST door onto the audit log: GET /mlinfra/api/audit (admins and auditors read every
user's entries, anyone else their own)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core import audit
from .base import MLInfraHandler


class AuditHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                audit.query,
                self.workspace,
                user=self.query("user"),
                action=self.query("action"),
                target=self.query("target"),
                outcome=self.query("outcome"),
                since=self.query("since"),
                until=self.query("until"),
                limit=self.query("limit"),
                offset=self.query("offset"),
                cursor=self.query("cursor"),
            )
        )


AUDIT_ROUTES: list[tuple[str, type]] = [(r"/audit", AuditHandler)]
