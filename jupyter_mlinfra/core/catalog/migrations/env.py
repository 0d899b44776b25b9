"""Alembic environment: always driven programmatically by ``Catalog`` with a live connection."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise RuntimeError("jupyter_mlinfra migrations run through Catalog.ensure_schema()")

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
