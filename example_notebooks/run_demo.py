"""`make demo`: the end-to-end tour on the embedded defaults.

Runs in a fresh home under ``.mlinfra-demo/`` (unless MLINFRA_HOME is set), so it never touches
a user's real catalog. Each capability adds a step function to ``STEPS``; a step prints what a
user would look at and raises on anything wrong, so the demo exits non-zero when it breaks.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def demo_outputs(ws) -> Path:
    out_dir = ws.config.home / "demo-outputs"
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def run_example(
    ws, name: str, notebook_path: str, show: tuple[str, ...], limit: int | None = None
) -> tuple[Path, float]:
    """Run example_notebooks/<name> with the shared runner into the demo's output folder and
    print the stream output of the cells whose source starts with one of ``show``; the output
    notebook's path and the seconds it took."""
    from jupyter_mlinfra.core.notebook_execution import execute_notebook

    out = demo_outputs(ws) / name
    started = time.perf_counter()
    nb = execute_notebook(
        HERE / name, out, kernel_name="python3", cwd=HERE, notebook_path=notebook_path
    )
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.lstrip().startswith(show):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                print(output["text"].rstrip()[:limit])
    return out, time.perf_counter() - started


def step_foundation(ws) -> None:
    banner("Foundation: configuration, catalog and artifact store")
    print(ws.info_text())
    payload = b"hello from the jupyter_mlinfra demo\n" * 1000
    info = ws.artifacts.put("demo/hello.txt", payload, metadata={"made_by": "make demo"})
    back = ws.artifacts.get("demo/hello.txt")
    assert back == payload, "artifact round trip returned different bytes"
    print(
        f"\nartifact round trip: {info.key} sha256={info.sha256[:16]}... "
        f"{info.size} bytes, read back and verified"
    )


def step_provenance(ws) -> None:
    banner("Provenance: hazards found in a messy session, fixed, verified")
    import nbformat

    from jupyter_mlinfra.core.notebook_execution import execute_notebook
    from jupyter_mlinfra.core.provenance.model import METADATA_KEY

    svc = ws.service("provenance")
    demo = HERE / "provenance_demo.ipynb"
    # 1. Found: the notebook carries the log of its interactive session; no catalog needed.
    report = svc.check(str(demo))
    print(report.to_text())
    assert report.stale and report.out_of_order and report.hidden_state, "no hazard found"
    out_dir = demo_outputs(ws)
    replay = svc.export_replay(
        out_dir / "provenance_demo.replay.ipynb", str(demo), cell_id="report"
    )
    print(
        "\nreplay order of the report cell: executions "
        + ", ".join(f"#{e['seq']} ({e['cell_id']})" for e in replay["executions"])
        + f" -> {replay['path']}"
    )
    # 2. Fixed: define `currency` in a cell, then restart and run all (here: papermill).
    nb = nbformat.read(demo, as_version=4)
    nb.metadata.pop(METADATA_KEY, None)
    at = next(i for i, c in enumerate(nb.cells) if c.get("id") == "report")
    nb.cells.insert(at, nbformat.v4.new_code_cell('currency = "EUR"', id="currency"))
    fixed = out_dir / "provenance_demo_fixed.ipynb"
    execute_notebook(nb, fixed, cwd=out_dir, notebook_path=str(fixed))
    after = svc.check(str(fixed))
    print("\nafter the fix: " + after.to_text().splitlines()[-1])
    assert after.clean, after.to_text()
    # 3. Verified: a fresh kernel re-runs it to the same outputs (what CI would run).
    result = svc.verify(str(fixed))
    print(result.to_text())
    assert result.ok, "the fixed notebook does not re-run to its outputs"


def step_features(ws) -> None:
    banner("Feature store: define, materialize, point-in-time training frame, online, push")
    out, seconds = run_example(
        ws,
        "features_demo.ipynb",
        "example_notebooks/features_demo.ipynb",
        ("%mlinfra feature list", "info = "),
    )
    fs = ws.service("features")
    info = fs.describe("spend", statistics=False)
    assert info["freshness"]["offline_rows"] > 0, "the demo materialized nothing"
    assert any(u["consumer"].startswith("model:churn_demo") for u in info["used_by"]), (
        "the demo model is not listed as a user of the spend features"
    )
    print(f"\nfeatures_demo.ipynb ran in {seconds:.1f} s; output notebook: {out}")


def step_models(ws) -> None:
    banner("Model store: register, alias, load, compare, reproduce")
    out, seconds = run_example(
        ws,
        "models_demo.ipynb",
        str(HERE / "models_demo.ipynb"),
        (
            "%mlinfra model register",
            "%mlinfra model alias",
            "%mlinfra model compare",
            "if not models.is_reproducing",
        ),
        limit=1500,
    )
    store = ws.service("models")
    print("\n" + repr(store.card("cancer-clf")))
    production = store.get("cancer-clf@production")
    assert production.version == 2, "the production alias did not move to version 2"
    kinds = {a["kind"] for a in production.artifacts}
    assert {"parameters", "featurize", "source", "dependencies", "notebook", "figure"} <= kinds
    print(
        f"\nmodels_demo.ipynb ran in {seconds:.1f} s (including a reproduction in a fresh "
        f"kernel); output notebook: {out}"
    )


def step_jobs(ws) -> None:
    """A DAG of three notebooks run by the scheduler, then a parameter sweep's results."""
    from jupyter_mlinfra.core.jobs.executors import LocalExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler, run_until_idle

    banner("Jobs: a notebook pipeline (prepare -> train -> evaluate) and a sweep")
    ws.config.settings.root_dir = str(HERE)
    jobs = ws.service("jobs")
    existing = {j["name"] for j in jobs.list_jobs()}
    for name in ("demo-evaluate", "demo-train", "demo-prepare"):
        if name in existing:
            jobs.delete_job(name)
    jobs.create_job(
        "demo-prepare",
        "jobs_prepare.ipynb",
        parameters={"rows": 2000},
        schedule="0 6 * * 1-5",
        timezone="Europe/Paris",
        tags=["demo"],
    )
    jobs.create_job(
        "demo-train",
        "jobs_train.ipynb",
        parameters={"alpha": 1.0},
        depends_on=["demo-prepare"],
        retries=1,
        timeout=300,
        tags=["demo"],
    )
    jobs.create_job(
        "demo-evaluate", "jobs_evaluate.ipynb", depends_on=["demo-train"], tags=["demo"]
    )
    prepare = jobs.get_job("demo-prepare")
    print(
        f"demo-prepare runs on '{prepare['schedule']}' ({prepare['timezone']}); next: "
        + ", ".join(t[:16] for t in prepare["next_fire_times"][:3])
        + " ..."
    )
    scheduler = Scheduler(ws, LocalExecutor(ws, 2), poll_interval=0.1)
    try:
        started = time.perf_counter()
        pipeline = jobs.run_job("demo-prepare")
        run_until_idle(scheduler, timeout=600)
        print(f"\npipeline {pipeline['pipeline_id']} ({time.perf_counter() - started:.1f} s):")
        for run_id in pipeline["pipeline_run_ids"]:
            run = jobs.get_run(run_id)
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in run["metrics"].items())
            print(f"  {run['job_name']:<14} {run['state']:<10} {run['trigger']:<10} {metrics}")
            assert run["state"] == "succeeded", run["error"]
        sweep = jobs.sweep("jobs_train.ipynb", {"alpha": [0.01, 1.0, 100.0, 1000.0]})
        run_until_idle(scheduler, timeout=600)
    finally:
        scheduler.stop()
    results = jobs.sweep_results(sweep["id"])
    print(f"\nsweep {sweep['id']} over alpha (jupyter mlinfra sweep / jobs.sweep_results):")
    print(results.drop(columns=["run_id", "data_dir"], errors="ignore").to_string(index=False))
    assert (results["state"] == "succeeded").all()
    best = results.sort_values("test_rmse").iloc[0]
    print(f"best alpha by held-out RMSE: {best['alpha']:g}")


# Foundation first; the model step uses what provenance and jobs provide, and the feature
# step trains and registers a model with its feature lineage.
STEPS = [step_foundation, step_provenance, step_jobs, step_models, step_features]


def main() -> int:
    if not os.environ.get("MLINFRA_HOME"):
        home = ROOT / ".mlinfra-demo"
        shutil.rmtree(home, ignore_errors=True)
        os.environ["MLINFRA_HOME"] = str(home)
    os.chdir(HERE)
    from jupyter_mlinfra.core.workspace import get_workspace

    ws = get_workspace()
    started = time.perf_counter()
    for step in STEPS:
        step(ws)
    print(
        f"\ndemo finished in {time.perf_counter() - started:.1f} s; "
        f"everything it made is under {ws.config.home}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
