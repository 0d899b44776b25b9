"""PostgreSQL: what the planner needs for parameter searches.

- Statistics of a run parameter's (name, value) pair. A parameter filter reads
  ``ix_mlinfra_run_params_value`` (name, value_text, created_at, run_id). PostgreSQL
  multiplied the two columns' selectivities as if independent: with 100,000 runs it guessed
  5,000 runs for ``lr=0.01`` where there were 20,000, so a search by two parameters
  hash-joined both parameters' whole sets (33,000 rows, 20 ms) to sort out a page of 50,
  instead of reading the first one's index newest first and checking the other per run (500
  rows, 4 ms). Extended statistics (``dependencies``, ``mcv``) give it the pair's frequencies.
- No trigram index on the model versions' names: one was tried here, and with it the models
  list with ``q`` + tag + metric took 530-610 ms a page at 10,000 models (the planner started
  from the name index), 74 ms without it.

SQLite: nothing.

Revision ID: 0016_pg_param_statistics
Revises: 0015_list_search_text
"""

from alembic import op

revision = "0016_pg_param_statistics"
down_revision = "0015_list_search_text"
branch_labels = None
depends_on = None

_STATISTICS = "st_mlinfra_run_params_name_value"


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE STATISTICS IF NOT EXISTS {_STATISTICS} (dependencies, mcv) "
        "ON name, value_text FROM mlinfra_run_params"
    )
    # fill them now (autovacuum would, but only after enough rows change)
    op.execute("ANALYZE mlinfra_run_params")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {_STATISTICS}")
