"""REST door onto the executed notebooks (the workbench's notebook hub): GET /notebooks (the
list envelope, searchable), GET /notebooks/{id} (metadata, or with ?format=ipynb|html the
notebook itself). See openapi/notebooks.json and core/executed_notebooks.py."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core import executed_notebooks
from .base import MLInfraHandler

# Rendered notebooks hold other people's outputs: the page runs no script and loads nothing,
# whatever the sanitizer let through (styles and inline images stay).
HTML_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
)


async def send_document(handler: MLInfraHandler, document: dict, *, attachment: bool) -> None:
    """An output notebook (``executed_notebooks.render``'s dict) as the answer: ``.ipynb``
    always as an attachment, HTML inline unless ``attachment``; HTML never runs scripts."""
    if attachment or not document["media_type"].startswith("text/html"):
        handler.set_header(
            "Content-Disposition", executed_notebooks.content_disposition(document["filename"])
        )
    if document["media_type"].startswith("text/html"):
        handler.set_header("Content-Security-Policy", HTML_POLICY)
        handler.set_header("X-Content-Type-Options", "nosniff")
    await handler.send_bytes(document["data"], document["media_type"])


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


class NotebooksHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                executed_notebooks.list_notebooks,
                self.workspace,
                q=self.query("q"),
                notebook=self.query("notebook"),
                job=self.query("job"),
                tag=self.get_query_arguments("tag") or None,
                parameter=self.get_query_arguments("parameter") or None,
                owner=self.query("owner"),
                limit=self.query("limit"),
                offset=self.query("offset"),
                cursor=self.query("cursor"),
            )
        )


class NotebookHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def get(self, notebook_id: str) -> None:
        fmt = self.query("format")
        if not fmt:
            self.send_json(
                await self.call(executed_notebooks.get_notebook, self.workspace, notebook_id)
            )
            return
        document = await self.call(
            executed_notebooks.notebook_document, self.workspace, notebook_id, fmt
        )
        await send_document(self, document, attachment=_bool(self.query("download")))


NOTEBOOK_ROUTES: list[tuple[str, type]] = [
    (r"/notebooks", NotebooksHandler),
    (r"/notebooks/(?P<notebook_id>[0-9a-f]{32})", NotebookHandler),
]
