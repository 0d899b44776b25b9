"""Jobs: job definitions, sweeps, runs, run metrics and run logs.

Revision ID: 0003_jobs
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_jobs"
down_revision = "0001_foundation"
branch_labels = ("jobs",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlinfra_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("notebook", sa.String(1000), nullable=False),
        sa.Column("root_dir", sa.String(1000), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("kernel_name", sa.String(200), nullable=True),
        sa.Column("schedule", sa.String(200), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("catchup", sa.String(16), nullable=False),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_backoff", sa.Float(), nullable=False),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(), nullable=True, index=True),
        sa.Column("last_tick_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_mlinfra_jobs_owner_name"),
    )
    op.create_table(
        "mlinfra_sweeps",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("notebook", sa.String(1000), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("grid", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "mlinfra_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "job_id",
            sa.String(32),
            sa.ForeignKey("mlinfra_jobs.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("notebook", sa.String(1000), nullable=False),
        sa.Column("cwd", sa.String(1000), nullable=False),
        sa.Column("snapshot_key", sa.String(300), nullable=False),
        sa.Column("output_key", sa.String(300), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("kernel_name", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_backoff", sa.Float(), nullable=False),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.String(32), nullable=True, index=True),
        sa.Column("upstream_run_ids", sa.JSON(), nullable=False),
        sa.Column("sweep_id", sa.String(32), nullable=True, index=True),
        sa.Column("retry_of", sa.String(32), nullable=True),
        sa.Column("tick_key", sa.String(200), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("output_text", sa.Text(), nullable=False),
    )
    op.create_index("ix_mlinfra_runs_dispatch", "mlinfra_runs", ["state", "priority", "created_at"])
    op.create_table(
        "mlinfra_run_metrics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("mlinfra_runs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("logged_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "mlinfra_run_logs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("mlinfra_runs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mlinfra_run_logs")
    op.drop_table("mlinfra_run_metrics")
    op.drop_index("ix_mlinfra_runs_dispatch", table_name="mlinfra_runs")
    op.drop_table("mlinfra_runs")
    op.drop_table("mlinfra_sweeps")
    op.drop_table("mlinfra_jobs")
