"""Job definitions and submissions are validated before anything is written."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from jupyter_mlinfra.core.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from jupyter_mlinfra.core.jobs.tables import JobDefinition, Run
from jupyter_mlinfra.core.jobs.validation import next_fire_times

from .notebooks import write


def _count(ws, table) -> int:
    with ws.catalog.read_session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_job_with_schedule_shows_next_five_fire_times_in_its_time_zone(jobs):
    job = jobs.create_job(
        "daily",
        "ok.ipynb",
        parameters={"x": 3},
        schedule="30 6 * * 1-5",
        timezone="Europe/Paris",
        tags=["nightly", "demo"],
        priority=5,
        cpus=2,
        memory="1G",
        retries=2,
        timeout=60,
    )
    assert job["notebook"] == "ok.ipynb"
    assert job["parameters"] == {"x": 3}
    assert len(job["next_fire_times"]) == 5
    from zoneinfo import ZoneInfo

    for t in job["next_fire_times"]:
        local = datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Paris"))
        assert (local.hour, local.minute) == (6, 30) and local.weekday() < 5
    assert job["resources"] == {"cpus": 2.0, "memory_mb": 1024}
    assert job["tags"] == ["demo", "nightly"]
    assert jobs.get_job("daily")["id"] == job["id"]


def test_daylight_saving_change_keeps_local_wall_clock_time():
    after = datetime(2026, 3, 27, 12, 0, tzinfo=timezone.utc)
    times = next_fire_times("0 9 * * *", "Europe/Paris", after=after, count=3)
    # 9:00 in Paris is 08:00 UTC on 28 March 2026, 07:00 UTC from 29 March (summer time)
    assert [(t.day, t.hour) for t in times] == [(28, 8), (29, 7), (30, 7)]


@pytest.mark.parametrize(
    "spec, error, words",
    [
        (dict(notebook="../outside.ipynb"), InvalidInput, "outside the server root"),
        (dict(notebook="/etc/passwd"), InvalidInput, "outside the server root"),
        (dict(notebook="missing.ipynb"), NotFound, "unknown notebook"),
        (dict(notebook="ok.ipynb", parameters={"lr": 0.1}), InvalidInput, "unknown parameter lr"),
        (dict(notebook="ok.ipynb", parameters={"x": "not a number"}), InvalidInput, "expects int"),
        (
            dict(notebook="sub/noparams.ipynb", parameters={"x": 1}),
            InvalidInput,
            "no cell tagged 'parameters'",
        ),
        (dict(notebook="ok.ipynb", schedule="61 * * * *"), InvalidInput, "invalid cron"),
        (dict(notebook="ok.ipynb", schedule="* * *"), InvalidInput, "invalid cron"),
        (
            dict(notebook="ok.ipynb", schedule="0 6 * * *", timezone="Mars/Olympus"),
            InvalidInput,
            "unknown time zone",
        ),
        (dict(notebook="ok.ipynb", catchup="sometimes"), InvalidInput, "catch-up"),
        (dict(notebook="ok.ipynb", timeout=-1), InvalidInput, "timeout"),
        (dict(notebook="ok.ipynb", memory="lots"), InvalidInput, "memory"),
        (dict(notebook="ok.ipynb", depends_on=["nope"]), NotFound, "no job 'nope'"),
        (dict(notebook="broken.ipynb"), InvalidInput, "not a valid notebook"),
    ],
)
def test_invalid_definitions_are_refused_and_leave_nothing(jobs, jobs_ws, spec, error, words):
    notebook = spec.pop("notebook")
    with pytest.raises(error, match=words):
        jobs.create_job("bad", notebook, **spec)
    assert _count(jobs_ws, JobDefinition) == 0


def test_parameters_from_the_command_line_are_typed_like_papermill(jobs):
    run = jobs.submit("ok.ipynb", parameters={"x": "7", "label": "7"})
    assert run["parameters"] == {"x": 7, "label": "7"}


def test_cycle_is_refused_naming_it(jobs, jobs_ws):
    jobs.create_job("prepare", "ok.ipynb")
    jobs.create_job("train", "ok.ipynb", depends_on=["prepare"])
    jobs.create_job("evaluate", "ok.ipynb", depends_on=["train"])
    with pytest.raises(Conflict, match="prepare -> train -> evaluate -> prepare") as exc:
        jobs.update_job("prepare", depends_on=["evaluate"])
    assert exc.value.details["cycle"][0] == exc.value.details["cycle"][-1]
    assert jobs.get_job("prepare")["depends_on"] == []
    jobs.create_job("self", "ok.ipynb")
    with pytest.raises(Conflict, match="self -> self"):
        jobs.update_job("self", depends_on=["self"])


def test_duplicate_name_pause_resume_delete(jobs):
    jobs.create_job("a", "ok.ipynb", schedule="*/5 * * * *")
    with pytest.raises(Conflict, match="already exists"):
        jobs.create_job("a", "ok.ipynb")
    assert jobs.pause_job("a")["active"] is False
    assert jobs.get_job("a")["next_fire_times"] == []
    assert jobs.resume_job("a")["active"] is True
    jobs.create_job("b", "ok.ipynb", depends_on=["a"])
    with pytest.raises(Conflict, match="dependency of b"):
        jobs.delete_job("a")
    jobs.delete_job("b")
    jobs.delete_job("a")
    assert jobs.list_jobs() == []


def test_run_snapshot_is_taken_at_creation(jobs, nb_root):
    run = jobs.submit("ok.ipynb", parameters={"x": 2})
    write(nb_root / "ok.ipynb", "x = 1", "print('edited later')")
    snapshot = jobs.run_input(run["id"]).decode()
    assert "log_metric" in snapshot and "edited later" not in snapshot


def test_queue_quota_refusal_names_the_quota(jobs, jobs_ws):
    jobs_ws.config.settings.jobs_max_queued_per_user = 2
    jobs.submit("ok.ipynb")
    jobs.submit("ok.ipynb")
    with pytest.raises(QuotaExceeded, match="max_queued") as exc:
        jobs.submit("ok.ipynb")
    assert exc.value.details["limit"] == 2
    with pytest.raises(QuotaExceeded, match="max_queued"):
        jobs.sweep("ok.ipynb", {"x": [1, 2, 3]})
    assert _count(jobs_ws, Run) == 2
    jobs_ws.config.settings.jobs_user_quotas = {jobs_ws.user: {"max_queued": 10}}
    jobs.submit("ok.ipynb")


def test_sweep_grid_and_list_filters(jobs):
    sweep = jobs.sweep("ok.ipynb", {"x": [1, 2], "label": ["a", "b"]}, tags=["grid"])
    assert len(sweep["run_ids"]) == 4
    assert {tuple(sorted(r["parameters"].items())) for r in sweep["runs"]} == {
        (("label", a), ("x", b)) for a in "ab" for b in (1, 2)
    }
    other = jobs.submit("fail.ipynb", parameters={"x": 9})
    page = jobs.list_runs(sweep=sweep["id"], limit=3)
    assert page["total"] == 4 and len(page["items"]) == 3
    assert jobs.list_runs(sweep=sweep["id"], limit=3, offset=3)["items"][0]["id"] not in {
        r["id"] for r in page["items"]
    }
    assert [r["id"] for r in jobs.list_runs(parameters={"x": 9})["items"]] == [other["id"]]
    assert jobs.list_runs(tag="grid")["total"] == 4
    assert jobs.list_runs(notebook="fail")["total"] == 1
    assert jobs.list_runs(state="queued")["total"] == 5
    with pytest.raises(InvalidInput, match="unknown state"):
        jobs.list_runs(state="sleeping")
    df = jobs.sweep_results(sweep["id"])
    assert list(df.columns[:4]) == ["run_id", "state", "x", "label"]
    assert len(df) == 4 and set(df["state"]) == {"queued"}
    with pytest.raises(InvalidInput):
        jobs.sweep("ok.ipynb", {"x": []})


def test_cancel_queued_run_and_retry(jobs):
    run = jobs.submit("ok.ipynb")
    cancelled = jobs.cancel_run(run["id"])
    assert cancelled["state"] == "cancelled"
    with pytest.raises(Conflict, match="already ended"):
        jobs.cancel_run(run["id"])
    again = jobs.retry_run(run["id"])
    assert again["trigger"] == "retry" and again["retry_of"] == run["id"]
    assert again["state"] == "queued"
    with pytest.raises(Conflict, match="not ended"):
        jobs.retry_run(again["id"])


def test_job_run_creates_a_pipeline_of_waiting_downstream_runs(jobs):
    jobs.create_job("prepare", "ok.ipynb")
    jobs.create_job("train", "ok.ipynb", depends_on=["prepare"], parameters={"x": 5})
    jobs.create_job("evaluate", "fail.ipynb", depends_on=["train", "prepare"])
    jobs.create_job("unrelated", "ok.ipynb")
    run = jobs.run_job("prepare")
    ids = run["pipeline_run_ids"]
    assert len(ids) == 3
    runs = {r["job_name"]: r for r in (jobs.get_run(i) for i in ids)}
    assert runs["prepare"]["state"] == "queued"
    assert runs["train"]["state"] == "waiting" and runs["train"]["trigger"] == "dependency"
    assert runs["train"]["parameters"] == {"x": 5}
    assert set(runs["evaluate"]["upstream_run_ids"]) == {runs["train"]["id"], runs["prepare"]["id"]}
