"""Catalog tables of the jobs capability (migrations ``0003_jobs``, ``0006_job_schedulers``,
``0007_scheduler_doorbell``, ``0008_jobs_visibility``, ``0009_runs_visibility``,
``0011_run_search``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    event,
    insert,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.schema import Base, UTCDateTime, utcnow


class JobDefinition(Base):
    """A notebook made into a job: what to run, when, after what, with which limits."""

    __tablename__ = "mlinfra_jobs"
    __table_args__ = (
        UniqueConstraint("owner", "name", name="uq_mlinfra_jobs_owner_name"),
        Index("ix_mlinfra_jobs_name", "name", "id"),  # the jobs list's order
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    notebook: Mapped[str] = mapped_column(String(1000))  # relative to root_dir
    root_dir: Mapped[str] = mapped_column(String(1000))
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    kernel_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    schedule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    catchup: Mapped[str] = mapped_column(String(16), default="latest")
    depends_on: Mapped[list] = mapped_column(JSON, default=list)  # job ids
    priority: Mapped[int] = mapped_column(Integer, default=0)
    cpus: Mapped[float] = mapped_column(Float, default=1.0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_backoff: Mapped[float] = mapped_column(Float, default=30.0)
    timeout: Mapped[float | None] = mapped_column(Float, nullable=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # who may make their jobs depend on this one (as for feature views): "private" (its
    # owner), "team" (users of ``team``, its owner's team when it was created), "public"
    visibility: Mapped[str] = mapped_column(String(16), default="team")
    team: Mapped[str] = mapped_column(String(128), default="")
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_tick_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sweep(Base):
    """One submission of a parameter grid; its runs carry its id."""

    __tablename__ = "mlinfra_sweeps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    notebook: Mapped[str] = mapped_column(String(1000))
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    grid: Mapped[list] = mapped_column(JSON, default=list)  # the list of parameter dicts
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    """One execution of a notebook (with its retries as attempts)."""

    __tablename__ = "mlinfra_runs"
    __table_args__ = (
        Index("ix_mlinfra_runs_dispatch", "state", "priority", "created_at"),
        # run search pages newest first by (created_at, id), alone or within one filter; each
        # index also holds who may read the run, so neither the page nor the total reads a
        # run's row (wide: its environment) to apply the reader's visibility
        Index("ix_mlinfra_runs_created", "created_at", "id", "owner", "visibility", "team"),
        Index(
            "ix_mlinfra_runs_state_created",
            "state",
            "created_at",
            "id",
            "owner",
            "visibility",
            "team",
        ),
        Index(
            "ix_mlinfra_runs_job_created",
            "job_id",
            "created_at",
            "id",
            "owner",
            "visibility",
            "team",
        ),
        Index(
            "ix_mlinfra_runs_sweep_created",
            "sweep_id",
            "created_at",
            "id",
            "owner",
            "visibility",
            "team",
        ),
        Index("ix_mlinfra_runs_owner_created", "owner", "created_at", "id", "visibility", "team"),
        # runs found through their tags or parameters, by id: the same, without the row
        Index(
            "ix_mlinfra_runs_id_search",
            "id",
            "created_at",
            "owner",
            "visibility",
            "team",
            "state",
            "job_id",
            "sweep_id",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("mlinfra_jobs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    owner: Mapped[str] = mapped_column(String(128), index=True)
    notebook: Mapped[str] = mapped_column(String(1000))
    cwd: Mapped[str] = mapped_column(String(1000))
    snapshot_key: Mapped[str] = mapped_column(String(300))
    output_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    kernel_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    cpus: Mapped[float] = mapped_column(Float, default=1.0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_backoff: Mapped[float] = mapped_column(Float, default=30.0)
    timeout: Mapped[float | None] = mapped_column(Float, nullable=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    pipeline_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    upstream_run_ids: Mapped[list] = mapped_column(JSON, default=list)
    sweep_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    retry_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # "<job id>@<tick ISO time>" for scheduled runs: the unique key that makes a cron tick
    # produce exactly one run whatever the number of scheduler processes.
    tick_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    history: Mapped[list] = mapped_column(JSON, default=list)  # earlier attempts
    environment: Mapped[dict] = mapped_column(JSON, default=dict)
    output_text: Mapped[str] = mapped_column(Text, default="")  # cells + outputs, for search
    # who may read a run without a job (a run of a job follows its job's): "private",
    # "team" (users of ``team``, its owner's team when it was created) or "public"
    visibility: Mapped[str] = mapped_column(String(16), default="team")
    team: Mapped[str] = mapped_column(String(128), default="")


class RunTag(Base):
    """One tag of a run, so a search by tag is an index lookup (kept by the events below);
    with the run's creation time, so the runs of a tag come newest first from the index."""

    __tablename__ = "mlinfra_run_tags"
    __table_args__ = (Index("ix_mlinfra_run_tags_tag", "tag", "created_at", "run_id"),)

    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("mlinfra_runs.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RunParam(Base):
    """One parameter of a run as text (``str(value)``, what ``param.<name>=`` compares)."""

    __tablename__ = "mlinfra_run_params"
    __table_args__ = (
        Index("ix_mlinfra_run_params_value", "name", "value_text", "created_at", "run_id"),
    )

    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("mlinfra_runs.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value_text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the run's


# Longer values are searched by their first PARAM_TEXT_MAX characters.
PARAM_TEXT_MAX = 500


def param_text(value) -> str:
    return str(value)[:PARAM_TEXT_MAX]


def search_rows(
    run_id: str, created_at: datetime, tags, parameters
) -> tuple[list[dict], list[dict]]:
    """The side-table rows of one run: (tag rows, parameter rows)."""
    tag_rows = [
        {"run_id": run_id, "tag": str(t)[:200], "created_at": created_at}
        for t in dict.fromkeys(tags or [])
    ]
    param_rows = [
        {
            "run_id": run_id,
            "name": str(k)[:200],
            "value_text": param_text(val),
            "created_at": created_at,
        }
        for k, val in (parameters or {}).items()
    ]
    return tag_rows, param_rows


def _write_search_rows(connection, run, replace: bool) -> None:
    if replace:
        connection.execute(delete(RunTag).where(RunTag.run_id == run.id))
        connection.execute(delete(RunParam).where(RunParam.run_id == run.id))
    tag_rows, param_rows = search_rows(run.id, run.created_at, run.tags, run.parameters)
    if tag_rows:
        connection.execute(insert(RunTag), tag_rows)
    if param_rows:
        connection.execute(insert(RunParam), param_rows)


class RunMetric(Base):
    __tablename__ = "mlinfra_run_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("mlinfra_runs.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RunLogLine(Base):
    """The run's log stream; ``id`` is the offset a reader resumes from."""

    __tablename__ = "mlinfra_run_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("mlinfra_runs.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stream: Mapped[str] = mapped_column(String(16), default="log")
    text: Mapped[str] = mapped_column(Text)


class SchedulerRecord(Base):
    """A scheduler serving the catalog: it renews ``expires_at`` while it runs, so a
    scheduler that died (even by SIGKILL) is seen as gone once that time has passed."""

    __tablename__ = "mlinfra_job_schedulers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    executor: Mapped[str] = mapped_column(String(32))
    serving: Mapped[bool] = mapped_column(Boolean, default=True)  # False: a `--wait` helper
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the loopback UDP port on which processes of ``host`` wake it (None: it polls only)
    doorbell_port: Mapped[int | None] = mapped_column(Integer, nullable=True)


@event.listens_for(Run, "after_insert")
def _run_inserted(_mapper, connection, run) -> None:
    _write_search_rows(connection, run, replace=False)


@event.listens_for(Run, "after_update")
def _run_updated(_mapper, connection, run) -> None:
    state = sa_inspect(run)
    if any(
        getattr(state.attrs, name).history.has_changes()
        for name in ("tags", "parameters", "created_at")
    ):
        _write_search_rows(connection, run, replace=True)
