"""Model store benchmark: register and load a ~50 MB model through an S3 endpoint, against raw
boto3 upload and download of the same bytes, in one run.

- the model: a scikit-learn ``KNeighborsRegressor(algorithm="brute")`` fitted on ~50 MB of
  float64 data (its fitted state is the data), different random data for every repetition so
  the content-addressed store really uploads each time;
- the endpoint: moto's S3 server on loopback (HTTP), the same code path as AWS S3 or MinIO;
- the store: ``register`` (definition, joblib parameters, dependencies and environment lock,
  SHA-256 of every artifact, catalog transaction on SQLite) then ``load`` (download into a
  private file hashed as the parts arrive, checksum verification against the catalog, joblib
  load with the arrays memory-mapped copy-on-write from that file: a usable model whose pages
  come from the page cache on first use);
- the baseline: ``boto3`` ``upload_fileobj`` and ``download_fileobj`` (default transfer
  settings) of the exact bytes the store wrote for that model (its joblib file): no
  serialization, no checksums, no catalog.

Prints the median of the repetitions and the ratios. Target: store / raw boto3 <= 1.3.
Run: ``python benchmarks/model_store.py [--mb 50] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    import logging

    import boto3
    import numpy as np
    from moto.server import ThreadedMotoServer
    from sklearn.neighbors import KNeighborsRegressor

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)

    home = tempfile.mkdtemp(prefix="mlinfra-bench-models-")
    os.environ.update(
        MLINFRA_HOME=home,
        MLINFRA_ARTIFACT_ROOT=f"s3://{bucket}/store",
        MLINFRA_S3_ENDPOINT_URL=endpoint,
    )
    os.environ.pop("MLINFRA_CATALOG_URL", None)
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    store = ws.service("models")
    cols = 8
    rows = int(args.mb * 1e6 / 8 / (cols + 1))  # X and y
    rng = np.random.default_rng(7)

    def make_model():
        X = rng.normal(size=(rows, cols))
        return KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(X, X[:, 0])

    # warm-up: first catalog use (migrations), the environment lock, boto3 connections
    store.register("warmup", KNeighborsRegressor().fit([[0.0], [1.0]], [0.0, 1.0]), figures=[])
    client.put_object(Bucket=bucket, Key="warmup", Body=b"x")

    reg, load, up, down = [], [], [], []
    size = 0

    def store_round(model):
        t0 = time.perf_counter()
        version = store.register("big", model, figures=[])
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = store.load(version.ref)
        t2 = time.perf_counter()
        assert loaded.model._fit_X.shape == (rows, cols)
        return version, t1 - t0, t2 - t1

    def raw_round(payload):
        key = f"raw/{uuid.uuid4().hex}"
        t3 = time.perf_counter()
        client.upload_fileobj(io.BytesIO(payload), bucket, key)
        t4 = time.perf_counter()
        sink = io.BytesIO()
        client.download_fileobj(bucket, key, sink)
        back = sink.getvalue()
        t5 = time.perf_counter()
        assert len(back) == len(payload)
        return t4 - t3, t5 - t4

    # The two sides alternate which goes first, so the shared machine's load hits both alike.
    for i in range(args.repeat):
        model = make_model()
        if i % 2 == 0:
            version, r, lo = store_round(model)
            payload = store.read_artifact(version, "model.joblib")  # the same bytes, untimed
            u, d = raw_round(payload)
        else:
            from jupyter_mlinfra.core.models.capture import serialize_model

            payload = serialize_model(model)[0].data  # the bytes register writes, untimed
            u, d = raw_round(payload)
            version, r, lo = store_round(model)
            assert version.artifact("model.joblib")["size"] == len(payload)
        size = len(payload)
        reg.append(r)
        load.append(lo)
        up.append(u)
        down.append(d)
        del model, payload
        print(
            f"  run {i + 1}: register {r:.3f} s, load {lo:.3f} s | boto3 upload {u:.3f} s, "
            f"download {d:.3f} s | ratio {(r + lo) / (u + d):.2f}x",
            flush=True,
        )

    med = statistics.median
    store_total = med([r + lo for r, lo in zip(reg, load)])
    raw_total = med([u + d for u, d in zip(up, down)])
    print(
        f"\nmodel_store: {size / 1e6:.1f} MB model (joblib), S3 endpoint {endpoint}, "
        f"median of {args.repeat}"
    )
    print(
        f"  register      {med(reg):.3f} s   vs boto3 upload_fileobj   {med(up):.3f} s   "
        f"ratio {med(reg) / med(up):.2f}x"
    )
    print(
        f"  load          {med(load):.3f} s   vs boto3 download_fileobj {med(down):.3f} s   "
        f"ratio {med(load) / med(down):.2f}x"
    )
    print(
        f"  register+load {store_total:.3f} s   vs upload+download        {raw_total:.3f} s   "
        f"ratio {store_total / raw_total:.2f}x   (target <= 1.30x)"
    )
    per_run = [(r + lo) / (u + d) for r, lo, u, d in zip(reg, load, up, down)]
    print(
        f"  per-run ratios: median {med(per_run):.2f}x, best {min(per_run):.2f}x, "
        f"worst {max(per_run):.2f}x; load average {os.getloadavg()[0]:.1f}"
    )
    ws.close()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
