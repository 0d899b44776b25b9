"""The scheduler's decisions, with a no-op executor and an injectable clock (no kernels)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from jupyter_mlinfra.core.catalog.schema import utcnow
from jupyter_mlinfra.core.errors import InvalidInput
from jupyter_mlinfra.core.jobs.executors import NoopExecutor
from jupyter_mlinfra.core.jobs.scheduler import Scheduler
from jupyter_mlinfra.core.jobs.tables import JobDefinition, Run


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, **delta) -> None:
        with self.lock:
            self.now += timedelta(**delta)


T0 = datetime(2030, 1, 1, 0, 0, 0, tzinfo=timezone.utc)


def _scheduled_job(jobs, ws, name="tick", catchup="latest", schedule="* * * * *"):
    job = jobs.create_job(name, "ok.ipynb", schedule=schedule, catchup=catchup)
    with ws.catalog.session() as s:
        s.execute(
            update(JobDefinition)
            .where(JobDefinition.id == job["id"])
            .values(next_fire_at=T0 + timedelta(minutes=1), last_tick_at=T0)
        )
    return job


def _runs(ws, **where):
    with ws.catalog.read_session() as s:
        stmt = select(Run).order_by(Run.created_at)
        for k, v in where.items():
            stmt = stmt.where(getattr(Run, k) == v)
        return list(s.scalars(stmt))


def test_cron_tick_creates_one_scheduled_run_per_tick(jobs, jobs_ws):
    job = _scheduled_job(jobs, jobs_ws)
    clock = FakeClock(T0)
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws), clock=clock)
    sched.tick()
    assert _runs(jobs_ws) == []
    for minute in range(1, 4):
        clock.now = T0 + timedelta(minutes=minute, seconds=0.2)
        sched.tick()
        sched.tick()
    runs = _runs(jobs_ws, job_id=job["id"])
    assert [r.tick_key.split("@")[1] for r in runs] == [
        (T0 + timedelta(minutes=m)).isoformat() for m in (1, 2, 3)
    ]
    assert all(r.trigger == "schedule" for r in runs)


@pytest.mark.parametrize("policy, expected", [("none", 0), ("latest", 1), ("all", 5)])
def test_catch_up_policy_after_downtime(jobs, jobs_ws, policy, expected):
    _scheduled_job(jobs, jobs_ws, catchup=policy)
    clock = FakeClock(T0 + timedelta(minutes=5, seconds=30))  # down for five ticks
    Scheduler(jobs_ws, NoopExecutor(jobs_ws), clock=clock).tick()
    runs = _runs(jobs_ws)
    assert len(runs) == expected
    if policy == "latest":
        assert runs[0].tick_key.endswith((T0 + timedelta(minutes=5)).isoformat())
    # after catching up, the next tick comes on time
    clock.advance(seconds=31)
    Scheduler(jobs_ws, NoopExecutor(jobs_ws), clock=clock).tick()
    assert len(_runs(jobs_ws)) == expected + 1


def _three_schedulers_tick_once(ws, url_env):
    from jupyter_mlinfra.core.workspace import Workspace

    clock = FakeClock(T0)
    workspaces = [Workspace(ws.config) for _ in range(3)]
    schedulers = [
        Scheduler(w, NoopExecutor(w), clock=clock, name=f"s{i}") for i, w in enumerate(workspaces)
    ]
    barrier = threading.Barrier(3)
    errors = []

    def loop(sched):
        try:
            for _ in range(10):
                barrier.wait()
                sched.tick()
                barrier.wait()
                if sched.id == "s0":
                    clock.advance(seconds=20)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=loop, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for w in workspaces:
        w.close()
    assert not errors
    return schedulers


def _check_exactly_once(ws, job_ids, schedulers):
    for job_id in job_ids:
        keys = [r.tick_key for r in _runs(ws, job_id=job_id)]
        assert len(keys) == len(set(keys))
        # 10 passes 20 s apart cover 3 minute ticks (00:01, 00:02, 00:03)
        assert len(keys) == 3, keys
    assert sum(s.stats["scheduled"] for s in schedulers) == 3 * len(job_ids)


def test_three_schedulers_on_one_catalog_run_every_tick_exactly_once(jobs, jobs_ws):
    ids = [_scheduled_job(jobs, jobs_ws, name=f"job{i}")["id"] for i in range(3)]
    schedulers = _three_schedulers_tick_once(jobs_ws, None)
    _check_exactly_once(jobs_ws, ids, schedulers)


@pytest.mark.postgres
def test_three_schedulers_exactly_once_on_postgresql(
    pg_catalog_url, mlinfra_env, nb_root, monkeypatch
):
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", pg_catalog_url)
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(nb_root))
    ws = Workspace.open()
    jobs = ws.service("jobs")
    ids = [_scheduled_job(jobs, ws, name=f"job{i}")["id"] for i in range(3)]
    schedulers = _three_schedulers_tick_once(ws, pg_catalog_url)
    _check_exactly_once(ws, ids, schedulers)
    ws.close()


def test_dag_release_and_upstream_failed(jobs, jobs_ws):
    jobs.create_job("prepare", "ok.ipynb")
    jobs.create_job("train", "ok.ipynb", depends_on=["prepare"])
    jobs.create_job("evaluate", "ok.ipynb", depends_on=["train"])
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws))
    first = jobs.run_job("prepare")
    for _ in range(8):
        sched.tick()
    states = {
        jobs.get_run(i)["job_name"]: jobs.get_run(i)["state"] for i in first["pipeline_run_ids"]
    }
    assert states == {"prepare": "succeeded", "train": "succeeded", "evaluate": "succeeded"}
    # a failing upstream: its downstream runs are marked upstream_failed, never run
    second = jobs.run_job("prepare")
    with jobs_ws.catalog.session() as s:
        s.execute(
            update(Run).where(Run.id == second["id"]).values(state="failed", finished_at=utcnow())
        )
    for _ in range(3):
        sched.tick()
    states = [jobs.get_run(i)["state"] for i in second["pipeline_run_ids"]]
    assert states == ["failed", "upstream_failed", "upstream_failed"]


def test_dispatch_by_priority_then_age_within_capacity(jobs, jobs_ws):
    low = jobs.submit("ok.ipynb", priority=0)
    old_high = jobs.submit("ok.ipynb", priority=5)
    new_high = jobs.submit("ok.ipynb", priority=5)
    executor = NoopExecutor(jobs_ws, slots=1)
    sched = Scheduler(jobs_ws, executor)
    order = []
    for _ in range(3):
        sched._dispatch()
        order += [run_id for _, run_id in executor._pending]
        executor.poll()
    assert order == [old_high["id"], new_high["id"], low["id"]]


def test_per_user_running_quota_and_resources(jobs, jobs_ws):
    jobs_ws.config.settings.jobs_max_running_per_user = 1
    a = jobs.submit("ok.ipynb")
    b = jobs.submit("ok.ipynb")
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws))
    sched._dispatch()
    assert [jobs.get_run(r["id"])["state"] for r in (a, b)] == ["running", "queued"]
    sched._dispatch()
    assert jobs.get_run(b["id"])["state"] == "queued"  # quota holds it back
    sched.tick()  # a finishes, b may go
    sched._dispatch()
    assert jobs.get_run(b["id"])["state"] == "running"


def _lose(ws, run_ids, progress) -> None:
    """The runs were claimed by a worker whose scheduler died: their leases expired."""
    past = utcnow() - timedelta(minutes=5)
    with ws.catalog.session() as s:
        s.execute(
            update(Run)
            .where(Run.id.in_(run_ids))
            .values(
                state="running",
                worker="ghost:dead-1",
                started_at=past,
                lease_expires_at=past,
                progress=progress,
            )
        )


def test_expired_lease_is_recovered_by_retry_policy(jobs, jobs_ws):
    kept = jobs.submit("ok.ipynb", retries=1, retry_backoff=0)
    lost = jobs.submit("ok.ipynb", retries=0)
    # both were executing (a cell had run) when their worker was lost
    _lose(jobs_ws, [kept["id"], lost["id"]], {"executed": 1, "code_cells": 3})
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws, slots=0))
    sched.tick()
    k, lo = jobs.get_run(kept["id"]), jobs.get_run(lost["id"])
    assert k["state"] == "queued" and k["attempt"] == 2
    assert k["history"][0]["error"]["type"] == "WorkerLost"
    # the default policy (retries=0) still retries once after a lost worker, at once
    assert lo["state"] == "queued" and lo["attempt"] == 2
    assert "lease" in lo["history"][0]["error"]["message"]
    assert lo["not_before"] <= utcnow().isoformat()
    assert any("recovered" in line["text"] for line in jobs.run_log(lost["id"])["lines"])
    # lost again: that was its one retry
    _lose(jobs_ws, [lost["id"]], {"executed": 0, "code_cells": 3, "cell_started": True})
    sched.tick()
    lo = jobs.get_run(lost["id"])
    assert lo["state"] == "failed" and lo["error"]["type"] == "WorkerLost"
    assert "lease" in lo["error"]["message"] and lo["attempt"] == 2


def test_a_run_lost_before_its_first_cell_is_queued_again_on_the_same_attempt(jobs, jobs_ws):
    run = jobs.submit("ok.ipynb")
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws, slots=0))
    for progress in ({}, {"executed": 0, "code_cells": 3}, {}):
        _lose(jobs_ws, [run["id"]], progress)  # claimed, kernel starting: no cell ran
        sched.tick()
        r = jobs.get_run(run["id"])
        assert (r["state"], r["attempt"], r["worker"], r["progress"]) == ("queued", 1, None, {})
    assert [h["state"] for h in r["history"]] == ["requeued"] * 3
    assert any("before its first cell" in line["text"] for line in jobs.run_log(run["id"])["lines"])
    # a run that keeps losing its worker before starting ends up spending its attempts
    _lose(jobs_ws, [run["id"]], {})
    sched.tick()
    r = jobs.get_run(run["id"])
    assert (r["state"], r["attempt"]) == ("queued", 2)


def test_a_broken_job_does_not_stop_the_scheduler(jobs, jobs_ws, nb_root):
    _scheduled_job(jobs, jobs_ws, name="vanishing")
    _scheduled_job(jobs, jobs_ws, name="fine")
    (nb_root / "ok.ipynb").rename(nb_root / "gone.ipynb")
    clock = FakeClock(T0 + timedelta(minutes=1, seconds=1))
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws), clock=clock)
    sched.tick()  # both ticks fail: the notebook is gone
    assert "no longer exists" in (sched.last_error or "")
    (nb_root / "gone.ipynb").rename(nb_root / "ok.ipynb")
    clock.advance(minutes=1)
    sched.tick()
    assert len(_runs(jobs_ws)) == 2


def test_a_wait_scheduler_only_runs_what_it_waits_for(jobs, jobs_ws):
    mine = jobs.submit("ok.ipynb")
    other = jobs.submit("ok.ipynb", priority=9)
    _scheduled_job(jobs, jobs_ws)
    clock = FakeClock(T0 + timedelta(minutes=3))
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws), clock=clock, only_runs={mine["id"]})
    sched.tick()
    sched.tick()
    assert jobs.get_run(mine["id"])["state"] == "succeeded"
    assert jobs.get_run(other["id"])["state"] == "queued"
    assert [r for r in _runs(jobs_ws) if r.trigger == "schedule"] == []


def test_a_run_bigger_than_the_executor_is_refused_not_queued_forever(jobs, jobs_ws):
    jobs_ws.config.settings.jobs_cpus = 2
    jobs_ws.config.settings.jobs_memory_mb = 1024
    with pytest.raises(InvalidInput, match="asks for 4 CPUs .* at most 2 "):
        jobs.submit("ok.ipynb", cpus=4)
    with pytest.raises(InvalidInput, match="2048 MB .* at most 1024 MB"):
        jobs.create_job("huge", "ok.ipynb", memory="2G")
    assert _runs(jobs_ws) == [] and jobs.list_jobs() == []


def test_requested_resources_fit_within_the_executor(jobs, jobs_ws):
    jobs_ws.config.settings.jobs_cpus = 3
    jobs_ws.config.settings.jobs_memory_mb = 4096
    big = jobs.submit("ok.ipynb", cpus=2, memory="3G", priority=3)
    second = jobs.submit("ok.ipynb", cpus=2, priority=2)  # 2 + 2 CPUs > 3
    small = jobs.submit("ok.ipynb", cpus=1, memory="2G", priority=1)  # 3 + 2 GB > 4 GB
    tiny = jobs.submit("ok.ipynb", cpus=1, memory=512)
    sched = Scheduler(jobs_ws, NoopExecutor(jobs_ws))
    sched._dispatch()
    states = [jobs.get_run(r["id"])["state"] for r in (big, second, small, tiny)]
    assert states == ["running", "queued", "queued", "running"]
    sched.tick()  # the no-op runs end; the others fit now
    sched._dispatch()
    assert jobs.get_run(second["id"])["state"] in ("running", "succeeded")


def test_schedulers_record_heartbeats_and_are_gone_when_stopped_or_expired(jobs, jobs_ws):
    from jupyter_mlinfra.core.jobs.tables import SchedulerRecord

    serving = Scheduler(jobs_ws, NoopExecutor(jobs_ws), name="daemon-1")
    helper = Scheduler(jobs_ws, NoopExecutor(jobs_ws), name="wait-1", only_runs=set())
    serving.tick()
    helper.tick()
    alive = {r["id"]: r for r in jobs.schedulers()}
    assert alive["daemon-1"]["serving"] and not alive["wait-1"]["serving"]
    assert jobs.status()["schedulers_alive"] == 1
    # a scheduler killed without stopping: its record expires
    with jobs_ws.catalog.session() as s:
        s.execute(
            update(SchedulerRecord)
            .where(SchedulerRecord.id == "daemon-1")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert [r["id"] for r in jobs.schedulers()] == ["wait-1"]
    helper.stop()
    assert jobs.schedulers() == [] and jobs.status()["schedulers_alive"] == 0
    gone = {r["id"]: r for r in jobs.schedulers(include_gone=True)}
    assert gone["wait-1"]["stopped_at"] and not gone["daemon-1"]["alive"]
    assert gone["daemon-1"]["stopped_at"] is None


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_run_queued_by_another_process_rings_the_schedulers_doorbell(
    backend, request, mlinfra_env, nb_root, monkeypatch, wait_until
):
    """A scheduler polling every 2 minutes dispatches at once a run that another process (a
    kernel, the CLI) queued: that process rang its doorbell (a loopback datagram on SQLite,
    a NOTIFY on PostgreSQL)."""
    import subprocess
    import sys

    from jupyter_mlinfra.core.workspace import Workspace

    if backend == "postgresql":
        monkeypatch.setenv("MLINFRA_CATALOG_URL", request.getfixturevalue("pg_catalog_url"))
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(nb_root))
    ws = Workspace.open()
    jobs = ws.service("jobs")
    scheduler = Scheduler(ws, NoopExecutor(ws), poll_interval=120).start()
    try:
        # its first pass records it (and, on SQLite, its port)
        [record] = wait_until(jobs.schedulers, "the scheduler's first pass", timeout=30)
        assert (record["doorbell_port"] is not None) == (backend == "sqlite")
        submitted = subprocess.run(
            [
                sys.executable,
                "-c",
                "from jupyter_mlinfra.core.workspace import Workspace\n"
                "print(Workspace.open().service('jobs').submit('ok.ipynb')['id'])",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        run_id = submitted.stdout.split()[-1]
        # the scheduler polls every 120 s: only the doorbell can start it within the wait
        wait_until(
            lambda: jobs.get_run(run_id)["state"] != "queued",
            "the doorbell to start the run",
            timeout=60,
        )
        assert jobs.get_run(run_id)["state"] == "running"
    finally:
        scheduler.stop()
        ws.close()


def test_one_serving_scheduler_a_day_collects_the_orphan_blobs(jobs_ws):
    store = jobs_ws.artifacts
    jobs_ws.config.settings.artifacts_gc_min_age = 0
    store.put("kept", b"still named")
    store.put("dropped", b"named no more")  # a deleted feature materialization, say
    store.delete("dropped")
    first, second = (Scheduler(jobs_ws, NoopExecutor(jobs_ws)) for _ in range(2))
    assert first.tick()["housekeeping"] == 1
    first._gc_thread.join(30)
    assert second.tick()["housekeeping"] == 0  # the turn is taken for a day
    assert len(list(store._list_objects("blobs/"))) == 1
    assert store.get("kept") == b"still named"
