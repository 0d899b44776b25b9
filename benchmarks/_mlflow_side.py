"""MLflow's side of ``benchmarks/model_store.py``: run by the interpreter of MLflow's own venv
(``benchmarks/.venvs/mlflow``, made by ``make bench-venvs``), never imported by our package.

A worker driven over stdin so its rounds interleave with the store's: set up once (a SQLite
tracking store, an experiment whose artifact location is the same S3 endpoint the store uses,
the caller's moto server), then for every ``round SEED`` line it fits the same kind of model
as the benchmark (``KNeighborsRegressor(algorithm="brute")`` on ``--mb`` MB of float64 data,
new data every round) and, for each mode (who goes first alternates):

- ``given``: ``mlflow.sklearn.log_model(..., pip_requirements=[scikit-learn, numpy, ...])``
- ``inferred``: ``mlflow.sklearn.log_model(...)`` with MLflow's requirement inference (it
  loads the model in a subprocess to see what it imports)

then ``mlflow.sklearn.load_model(uri)`` and the first ``predict``. Times: wall, and CPU of
this process plus its waited-for children (``os.times``: the inference subprocess included).
One JSON line per round on stdout; ``quit`` ends it.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import tempfile
import time
import warnings


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--mb", type=float, default=50.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import sklearn
    from sklearn.neighbors import KNeighborsRegressor

    home = tempfile.mkdtemp(prefix="mlflow-bench-")
    mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
    exp = mlflow.create_experiment("bench", artifact_location=f"s3://{args.bucket}/mlflow")
    mlflow.set_experiment(experiment_id=exp)
    name_kw = (
        "name"
        if "name" in inspect.signature(mlflow.sklearn.log_model).parameters
        else "artifact_path"
    )
    pins = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"]
    import scipy

    pins.append(f"scipy=={scipy.__version__}")
    cols = 8
    rows = int(args.mb * 1e6 / 8 / (cols + 1))

    def log_and_load(model, mode: str, query) -> dict:
        kwargs = {name_kw: "model"}
        if mode == "given":
            kwargs["pip_requirements"] = pins
        with mlflow.start_run():
            t0, c0 = time.perf_counter(), cpu()
            info = mlflow.sklearn.log_model(model, **kwargs)
            t1, c1 = time.perf_counter(), cpu()
        loaded = mlflow.sklearn.load_model(info.model_uri)
        loaded.predict(query)
        t2, c2 = time.perf_counter(), cpu()
        return {"log": t1 - t0, "log_cpu": c1 - c0, "load": t2 - t1, "load_cpu": c2 - c1}

    # warm-up: tracking store tables, the S3 client, the inference machinery
    small = KNeighborsRegressor(n_neighbors=1).fit([[0.0], [1.0]], [0.0, 1.0])
    for mode in ("given", "inferred"):
        log_and_load(small, mode, [[0.5]])
    print(json.dumps({"ready": True, "mlflow": mlflow.__version__}), flush=True)

    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        seed = int(cmd[1])
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(rows, cols))
        model = KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(X, X[:, 0])
        query = rng.normal(size=(10, cols))
        order = ("given", "inferred") if seed % 2 == 0 else ("inferred", "given")
        out = {mode: log_and_load(model, mode, query) for mode in order}
        del model, X
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
