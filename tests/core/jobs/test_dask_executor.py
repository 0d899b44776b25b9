"""Runs on a real Dask cluster (LocalCluster with worker processes), scaled adaptively."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_runs_execute_on_an_adaptive_dask_cluster(jobs, jobs_ws, wait_until):
    distributed = pytest.importorskip("distributed")
    from jupyter_mlinfra.core.jobs.dask_executor import DaskExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler

    jobs_ws.config.settings.jobs_record_provenance = False  # covered by test_execution
    cluster = distributed.LocalCluster(
        n_workers=0, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    try:
        executor = DaskExecutor(
            jobs_ws, cluster=cluster, max_workers=2, min_workers=0, lease_seconds=10
        )
        scheduler = Scheduler(jobs_ws, executor, poll_interval=0.1, lease_seconds=10)
        sweep = jobs.sweep("ok.ipynb", {"x": [1, 2, 3]})
        failing = jobs.submit("fail.ipynb", parameters={"x": 5})
        peaks = [0]
        ids = sweep["run_ids"] + [failing["id"]]

        def ticked(done):
            def condition() -> bool:
                scheduler.tick()
                peaks.append(len(cluster.scheduler_info["workers"]))
                return done()

            return condition

        wait_until(
            ticked(lambda: all(jobs.get_run(r)["state"] in ("succeeded", "failed") for r in ids)),
            "the sweep and the failing run to end",
            timeout=150,
            interval=0.2,
        )
        peak = max(peaks)
        scheduler.tick()
        df = jobs.sweep_results(sweep["id"])
        assert list(df["state"]) == ["succeeded"] * 3
        assert list(df["y"]) == [2.0, 4.0, 6.0]
        bad = jobs.get_run(failing["id"])
        assert bad["state"] == "failed" and bad["error"]["message"] == "bad value 5"
        assert all(jobs.get_run(r)["worker"].startswith("dask:") for r in ids)
        assert peak == 2  # grew with the queue, up to its maximum
        # the last task may still be returning after it wrote its final state
        wait_until(
            ticked(lambda: executor.in_flight() == {}),
            "the executor to have nothing in flight",
            timeout=20,
            interval=0.2,
        )
        # Idle: the adaptive cluster hands its workers back (Adaptive waits wait_count=6
        # intervals of 0.5 s per worker; the deadline is generous for a loaded machine).
        wait_until(
            ticked(lambda: cluster.scheduler_info["workers"] == {}),
            "the idle cluster to shrink to 0 workers",
            timeout=60,
            interval=0.5,
        )
        scheduler.stop()
    finally:
        cluster.close()
