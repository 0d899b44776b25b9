"""Model store benchmark: register and load a ~50 MB model through an S3 endpoint, against raw
boto3 upload and download of the same bytes and against MLflow, in one run.

- the model: a scikit-learn ``KNeighborsRegressor(algorithm="brute")`` fitted on ~50 MB of
  float64 data (its fitted state is the data), different random data for every repetition so
  the content-addressed store really uploads each time;
- the endpoint: moto's S3 server as a separate process (``moto_server`` on loopback, HTTP),
  as S3 or MinIO is in reality; every side talks to it over HTTP;
- the store, through its public API: ``models.register`` (definition, joblib parameters,
  dependencies and environment lock, SHA-256 of every artifact, catalog transaction on SQLite)
  then ``models.load`` (download into a private file hashed as the parts arrive, checksum
  verification against the catalog, joblib load with the arrays memory-mapped) and the first
  ``predict`` (10 rows: brute-force neighbours read every mapped page);
- raw boto3: ``upload_fileobj`` of the exact bytes the store wrote for that model (its joblib
  file: no serialization, no checksums, no catalog), then ``download_fileobj``,
  ``joblib.load`` of the bytes and the first ``predict``;
- MLflow (in its own venv, ``make bench-venvs``; a worker process driven round by round so
  its rounds interleave with ours): ``mlflow.sklearn.log_model`` to an experiment whose
  artifact store is the same S3 endpoint (SQLite tracking store), with ``pip_requirements``
  given and with MLflow's requirement inference, then ``load_model`` and the first
  ``predict``.

Wall time and CPU (this process's, plus waited-for children: a subprocess that MLflow's
inference starts is counted; the moto server's CPU is nobody's). Medians of the repetitions
and the ratio of the store to every baseline. Target: store / raw boto3 <= 1.3.
Run: ``python benchmarks/model_store.py [--mb 50] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venvs
from _targets import verdict


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/", timeout=1).read()
            return proc, endpoint
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    import boto3
    import joblib
    import numpy as np
    from sklearn.neighbors import KNeighborsRegressor

    moto, endpoint = start_moto()
    mlflow_proc = None
    try:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=bucket)

        home = tempfile.mkdtemp(prefix="mlinfra-bench-models-")
        os.environ.update(
            MLINFRA_HOME=home,
            MLINFRA_ARTIFACT_ROOT=f"s3://{bucket}/store",
            MLINFRA_S3_ENDPOINT_URL=endpoint,
            MLFLOW_S3_ENDPOINT_URL=endpoint,
        )
        os.environ.pop("MLINFRA_CATALOG_URL", None)
        from jupyter_mlinfra import models
        from jupyter_mlinfra.core.workspace import get_workspace

        missing = _venvs.unavailable("mlflow")
        mlflow_version = None
        if missing is None:
            mlflow_proc = subprocess.Popen(
                [
                    str(_venvs.python("mlflow")),
                    str(Path(__file__).resolve().parent / "_mlflow_side.py"),
                    "--bucket",
                    bucket,
                    "--mb",
                    str(args.mb),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=home,
            )
            ready = mlflow_proc.stdout.readline()
            if not ready:
                missing = "mlflow: its worker exited before it was ready (see stderr above)"
                mlflow_proc = None
            else:
                mlflow_version = json.loads(ready)["mlflow"]

        cols = 8
        rows = int(args.mb * 1e6 / 8 / (cols + 1))  # X and y
        rng = np.random.default_rng(7)
        query = rng.normal(size=(10, cols))

        def make_model():
            X = rng.normal(size=(rows, cols))
            return KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(X, X[:, 0])

        # warm-up: first catalog use (migrations), the environment lock, boto3 connections
        models.register("warmup", KNeighborsRegressor().fit([[0.0], [1.0]], [0.0, 1.0]), figures=[])
        client.put_object(Bucket=bucket, Key="warmup", Body=b"x")
        store = get_workspace().service("models")

        rec: dict[str, list[float]] = {}

        def add(key: str, value: float) -> None:
            rec.setdefault(key, []).append(value)

        def store_round(model):
            t0, c0 = time.perf_counter(), cpu()
            version = models.register("big", model, figures=[])
            t1, c1 = time.perf_counter(), cpu()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = models.load(version.ref)
            t2 = time.perf_counter()
            loaded.predict(query)
            t3, c3 = time.perf_counter(), cpu()
            assert loaded.model._fit_X.shape == (rows, cols)
            add("reg", t1 - t0)
            add("reg_cpu", c1 - c0)
            add("load", t2 - t1)
            add("load_pred", t3 - t1)
            add("load_pred_cpu", c3 - c1)
            return version

        def raw_round(payload):
            key = f"raw/{uuid.uuid4().hex}"
            t0, c0 = time.perf_counter(), cpu()
            client.upload_fileobj(io.BytesIO(payload), bucket, key)
            t1, c1 = time.perf_counter(), cpu()
            sink = io.BytesIO()
            client.download_fileobj(bucket, key, sink)
            t2 = time.perf_counter()
            sink.seek(0)
            joblib.load(sink).predict(query)
            t3, c3 = time.perf_counter(), cpu()
            add("up", t1 - t0)
            add("up_cpu", c1 - c0)
            add("down", t2 - t1)
            add("down_pred", t3 - t1)
            add("down_pred_cpu", c3 - c1)

        def mlflow_round(seed: int):
            if mlflow_proc is None:
                return
            mlflow_proc.stdin.write(f"round {seed}\n")
            mlflow_proc.stdin.flush()
            out = json.loads(mlflow_proc.stdout.readline())
            for mode, r in out.items():
                for k, v in r.items():
                    add(f"mlflow_{mode}_{k}", v)

        # The sides rotate which goes first, so the shared machine's load hits all alike.
        from jupyter_mlinfra.core.models.capture import serialize_model

        load_seen = []
        for i in range(args.repeat):
            model = make_model()
            payload = serialize_model(model)[0].data  # the bytes register writes, untimed
            sides = [
                functools.partial(store_round, model),
                functools.partial(raw_round, payload),
                functools.partial(mlflow_round, 1000 + i),
            ]
            for k in range(3):
                sides[(i + k) % 3]()
            load_seen.append(os.getloadavg()[0])
            size = len(payload)
            del model, payload, sides
            line = (
                f"  run {i + 1}: register {rec['reg'][-1]:.3f} s, load+predict "
                f"{rec['load_pred'][-1]:.3f} s | boto3 upload {rec['up'][-1]:.3f} s, "
                f"download+joblib.load+predict {rec['down_pred'][-1]:.3f} s"
            )
            if mlflow_proc is not None:
                line += (
                    f" | mlflow log {rec['mlflow_given_log'][-1]:.3f} s (inferred "
                    f"{rec['mlflow_inferred_log'][-1]:.3f} s), load+predict "
                    f"{rec['mlflow_given_load'][-1]:.3f} s"
                )
            print(line, flush=True)

        med = {k: statistics.median(v) for k, v in rec.items()}
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"\nmodel_store: {size / 1e6:.1f} MB model (joblib), moto_server process at "
            f"{endpoint}; {now}; load average during the runs "
            f"{min(load_seen):.2f}-{max(load_seen):.2f}; medians of {args.repeat} (seconds)"
        )
        store_both = med["reg"] + med["load_pred"]
        store_cpu = med["reg_cpu"] + med["load_pred_cpu"]
        rows_out = [
            (
                "jupyter_mlinfra models.register / load + predict",
                med["reg"],
                med["load_pred"],
                med["reg_cpu"],
                med["load_pred_cpu"],
            ),
            (
                "raw boto3 upload / download + joblib.load + predict",
                med["up"],
                med["down_pred"],
                med["up_cpu"],
                med["down_pred_cpu"],
            ),
        ]
        if mlflow_proc is not None:
            for mode, label in (
                ("given", "pip_requirements given"),
                ("inferred", "requirements inferred"),
            ):
                rows_out.append(
                    (
                        f"MLflow {mlflow_version} log_model / load_model + predict, {label}",
                        med[f"mlflow_{mode}_log"],
                        med[f"mlflow_{mode}_load"],
                        med[f"mlflow_{mode}_log_cpu"],
                        med[f"mlflow_{mode}_load_cpu"],
                    )
                )
        print(
            f"  {'':72} {'save':>7} {'load+pred':>9} {'both':>7} {'CPU both':>8}  "
            f"{'store/this wall':>15} {'CPU':>6}"
        )
        for label, save, load, save_cpu, load_cpu in rows_out:
            both, both_cpu = save + load, save_cpu + load_cpu
            print(
                f"  {label:72} {save:7.3f} {load:9.3f} {both:7.3f} {both_cpu:8.3f}  "
                f"{store_both / both:14.2f}x {store_cpu / both_cpu:5.2f}x"
            )
        if missing:
            print(f"  {missing}")
        print(
            f"  store load alone (no predict) {med['load']:.3f} s vs boto3 download_fileobj "
            f"alone {med['down']:.3f} s: {med['load'] / med['down']:.2f}x"
        )
        per_run = [
            (r + lp) / (u + dp)
            for r, lp, u, dp in zip(rec["reg"], rec["load_pred"], rec["up"], rec["down_pred"])
        ]
        print(
            f"  store / raw boto3 per run: median {statistics.median(per_run):.2f}x, best "
            f"{min(per_run):.2f}x, worst {max(per_run):.2f}x "
            f"{verdict(statistics.median(per_run), 1.3, 'x')}"
        )
        del store
        get_workspace().close()
        return 0
    finally:
        if mlflow_proc is not None:
            mlflow_proc.stdin.close()
            mlflow_proc.wait(timeout=60)
        moto.terminate()
        moto.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
