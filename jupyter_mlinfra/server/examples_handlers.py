"""The example notebooks (core/examples.py): GET /mlinfra/api/examples lists them, POST
/mlinfra/api/examples/copy copies those missing into the server root (never overwriting)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core import examples
from .base import MLInfraHandler


class _ExamplesBase(MLInfraHandler):
    def root(self) -> str:
        return str(
            self.workspace.config.settings.root_dir or self.settings.get("server_root_dir") or "."
        )


class ExamplesHandler(_ExamplesBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                examples.list_examples,
                self.root(),
                limit=self.query("limit"),
                offset=self.query("offset"),
                cursor=self.query("cursor"),
            )
        )


class ExamplesCopyHandler(_ExamplesBase):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.send_json(await self.call(examples.copy_examples, self.root()))


EXAMPLES_ROUTES: list[tuple[str, type]] = [
    (r"/examples", ExamplesHandler),
    (r"/examples/copy", ExamplesCopyHandler),
]
