"""Deployment: batch prediction over files, a small HTTP prediction server, a Dockerfile."""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..._version import __version__
from ..errors import InvalidInput, MLInfraError
from .loaded import to_jsonable

BATCH_ROWS = 100_000
log = logging.getLogger("jupyter_mlinfra.serve")


# -- batch ------------------------------------------------------------------------------------


def _s3_client(store):
    import boto3

    return boto3.client("s3", endpoint_url=store.ws.config.s3_endpoint_url)


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InvalidInput(f"invalid S3 URL {uri!r}: use s3://bucket/key")
    return bucket, key


def _format_of(uri: str) -> str:
    lower = uri.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".csv", ".csv.gz")):
        return "csv"
    raise InvalidInput(f"cannot tell the format of {uri!r}: use a .parquet or .csv file")


def _chunks(path: Path, fmt: str):
    import pandas as pd

    if fmt == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            yield batch.to_pandas()
    else:
        yield from pd.read_csv(path, chunksize=BATCH_ROWS)


def batch_predict(
    store, ref: str, input: str, output: str, *, output_column: str, keep_columns: bool
) -> dict:
    in_fmt, out_fmt = _format_of(input), _format_of(output)
    loaded = store.load(ref)
    started = time.perf_counter()
    rows = 0
    with tempfile.TemporaryDirectory(prefix="mlinfra-batch-") as tmp:
        if input.startswith("s3://"):
            local_in = Path(tmp) / ("input." + in_fmt)
            bucket, key = _split_s3(input)
            _s3_client(store).download_file(bucket, key, str(local_in))
        else:
            local_in = Path(input.removeprefix("file://")).expanduser()
            if not local_in.is_file():
                raise InvalidInput(f"no input file {input}")
        local_out = (
            Path(tmp) / ("output." + out_fmt)
            if output.startswith("s3://")
            else Path(output.removeprefix("file://")).expanduser()
        )
        local_out.parent.mkdir(parents=True, exist_ok=True)
        partial = local_out.with_name(local_out.name + ".part")
        writer = None
        try:
            for i, frame in enumerate(_chunks(local_in, in_fmt)):
                predictions = loaded.predict(frame)
                result = frame.copy() if keep_columns else frame.iloc[:, :0].copy()
                values = to_jsonable(predictions)
                if values and isinstance(values[0], dict):
                    import pandas as pd

                    extra = pd.DataFrame.from_records(values, index=frame.index)
                    result = pd.concat([result, extra.add_prefix(output_column + "_")], axis=1)
                else:
                    result[output_column] = (
                        list(predictions)
                        if not hasattr(predictions, "tolist")
                        else predictions.tolist()
                    )
                rows += len(result)
                if out_fmt == "parquet":
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(result, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(partial, table.schema)
                    writer.write_table(table)
                else:
                    result.to_csv(partial, mode="w" if i == 0 else "a", header=i == 0, index=False)
            if writer is not None:
                writer.close()
                writer = None
            if not partial.exists():
                raise InvalidInput(f"{input} has no rows")
            os.replace(partial, local_out)  # the output appears whole or not at all
        finally:
            if writer is not None:
                writer.close()
            partial.unlink(missing_ok=True)
        if output.startswith("s3://"):
            bucket, key = _split_s3(output)
            _s3_client(store).upload_file(str(local_out), bucket, key)
    return {
        "model": loaded.ref,
        "input": input,
        "output": output,
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 3),
        "executed_by": "in-process",
    }


BATCH_TAG = "mlinfra-batch-predict"
_BATCH_NOTEBOOK = {
    "parameters": (
        'model_ref = ""\ninput_uri = ""\noutput_uri = ""\n'
        'output_column = "prediction"\nkeep_columns = True'
    ),
    "body": (
        "import jupyter_mlinfra\nfrom jupyter_mlinfra import models\n\n"
        "result = models.batch_predict(model_ref, input_uri, output_uri,\n"
        "                              output_column=output_column,\n"
        "                              keep_columns=keep_columns, as_job=False)\n"
        'jupyter_mlinfra.log_metric("rows", result["rows"])\n'
        'jupyter_mlinfra.log_metric("seconds", result["seconds"])\nresult'
    ),
}


def _absolute(uri: str) -> str:
    if "://" in uri and not uri.startswith("file://"):
        return uri
    return str(Path(uri.removeprefix("file://")).expanduser().resolve())


def batch_predict_job(
    store,
    jobs,
    ref: str,
    input: str,
    output: str,
    *,
    output_column: str,
    keep_columns: bool,
    wait: bool,
    timeout: float | None,
) -> dict:
    """Batch prediction as a job run: a small generated notebook calls ``batch_predict`` in
    a fresh kernel (submitted as content, run in this process's folder); its rows and
    duration are the run's metrics. The version is resolved now, so a moving alias cannot
    change what the run uses."""
    import nbformat

    _format_of(input), _format_of(output)
    version = store.get(ref)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(_BATCH_NOTEBOOK["parameters"])
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(_BATCH_NOTEBOOK["body"])]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    run = jobs.submit_content(
        nb,
        name=f"batch-predict-{version.name}-{version.version}.ipynb",
        cwd=os.getcwd(),
        parameters={
            "model_ref": version.ref,
            "input_uri": _absolute(input),
            "output_uri": _absolute(output),
            "output_column": output_column,
            "keep_columns": bool(keep_columns),
        },
        tags=[BATCH_TAG, f"model:{version.name}:{version.version}"],
        **({"timeout": timeout} if timeout else {}),
    )
    result = {
        "model": version.ref,
        "input": input,
        "output": output,
        "run_id": run["id"],
        "executed_by": f"jobs service (run {run['id']})",
        "state": run["state"],
        "rows": None,
        "seconds": None,
    }
    if not wait:
        return result
    final = jobs.run_and_wait(run["id"], timeout=timeout)
    result.update(
        state=final["state"],
        rows=final["metrics"].get("rows"),
        seconds=final["metrics"].get("seconds"),
    )
    if final["state"] != "succeeded":
        error = final.get("error") or {}
        raise InvalidInput(
            f"batch prediction run {run['id']} ended {final['state']}: "
            f"{error.get('type', '')} {error.get('message', '')}".strip()
        )
    if result["rows"] is not None:
        result["rows"] = int(result["rows"])
    return result


# -- dockerfile -------------------------------------------------------------------------------

_SERVING_PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "joblib",
    "cloudpickle",
    "SQLAlchemy",
    "alembic",
    "boto3",
    "psycopg",
    "psycopg-binary",
)


def write_dockerfile(store, ref: str, folder: str, *, service_url: str | None = None) -> dict:
    """``service_url`` (remote mode): the image serves the model from that mlinfra service
    (its token given at run time) instead of opening a catalog and an artifact store."""
    version = store.get(ref)
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    recorded = version.dependencies
    lock = {}
    if version.artifact("environment-lock.txt") is not None:
        for line in store.read_artifact(version, "environment-lock.txt").decode().splitlines():
            if "==" in line and not line.startswith("#"):
                name, _, ver = line.partition("==")
                lock[name.strip()] = ver.strip()
    pins = dict(recorded.get("packages") or {})
    lowered = {k.lower(): (k, v) for k, v in lock.items()}
    for pkg in _SERVING_PACKAGES + (("requests",) if service_url else ()):
        if pkg.lower() in lowered and pkg.lower() not in {p.lower() for p in pins}:
            name, ver = lowered[pkg.lower()]
            pins[name] = ver
    pins.pop("jupyter_mlinfra", None)
    pins.pop("jupyter-mlinfra", None)
    requirements = [f"# pinned from the dependencies captured when {version.ref} was registered"]
    requirements += [
        f"{name}=={ver}" for name, ver in sorted(pins.items(), key=lambda kv: kv[0].lower())
    ]
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
    python = ".".join((recorded.get("python") or platform.python_version()).split(".")[:2])
    served = ref if "@" in ref else version.ref  # an alias stays an alias in the image
    if service_url:
        fetched = (
            f"# The model is fetched from the mlinfra service at {service_url} at start-up and\n"
            "# every artifact is verified against the checksum recorded at registration: pass\n"
            "# a token that may read it at run time,\n"
            "#   docker run -e MLINFRA_SERVICE_TOKEN=... -p 8080:8080 IMAGE\n"
        )
        environment = f'ENV MLINFRA_SERVICE_URL="{service_url}" \\\n    MLINFRA_SERVICE_TOKEN=""\n'
    else:
        fetched = (
            "# The model is fetched from the catalog and artifact store at start-up and every\n"
            "# artifact is verified against the checksum recorded at registration: pass their\n"
            "# locations at run time,\n"
            "#   docker run -e MLINFRA_CATALOG_URL=postgresql+psycopg://... \\\n"
            "#              -e MLINFRA_ARTIFACT_ROOT=s3://bucket/prefix -p 8080:8080 IMAGE\n"
        )
        environment = (
            'ENV MLINFRA_CATALOG_URL="" \\\n'
            '    MLINFRA_ARTIFACT_ROOT="" \\\n'
            '    MLINFRA_S3_ENDPOINT_URL=""\n'
        )
    dockerfile = f"""\
# Serves {served} ({version.definition.get("module")}.{version.definition.get("class")})
# with `jupyter mlinfra serve`. Generated by jupyter_mlinfra {__version__}.
{fetched}# jupyter_mlinfra itself comes from your package index; where the index does not have it,
# put its wheel in this folder and build with
#   docker build --build-arg MLINFRA_PACKAGE=./jupyter_mlinfra-{__version__}-py3-none-any.whl .
FROM python:{python}-slim
ARG MLINFRA_PACKAGE=jupyter_mlinfra=={__version__}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /srv
COPY . /srv/build
RUN cd /srv/build && pip install --no-cache-dir -r requirements.txt "$MLINFRA_PACKAGE" \\
    && rm -rf /srv/build
{environment}EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health')"
CMD ["jupyter-mlinfra", "serve", "{served}", "--host", "0.0.0.0", "--port", "8080"]
"""
    (out / "Dockerfile").write_text(dockerfile)
    return {
        "model": version.ref,
        "served": served,
        "folder": str(out),
        "files": [str(out / "Dockerfile"), str(out / "requirements.txt")],
        "pinned": len(pins),
        **({"service_url": service_url} if service_url else {}),
    }


# -- HTTP server ------------------------------------------------------------------------------


def records_from_body(body: Any) -> list[dict]:
    """``{"records": [...]}``, ``{"instances": [...]}``, ``[...]`` or ``{"columns", "data"}``."""
    if isinstance(body, list):
        records = body
    elif isinstance(body, dict) and "records" in body:
        records = body["records"]
    elif isinstance(body, dict) and "instances" in body:
        records = body["instances"]
    elif isinstance(body, dict) and "columns" in body and "data" in body:
        records = [dict(zip(body["columns"], row)) for row in body["data"]]
    else:
        raise InvalidInput('send {"records": [{"column": value, ...}, ...]}')
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InvalidInput("records must be a list of JSON objects")
    if not records:
        raise InvalidInput("no records to predict")
    return records


class _Handler(BaseHTTPRequestHandler):
    server_version = f"jupyter-mlinfra-serve/{__version__}"
    protocol_version = "HTTP/1.1"
    server: ModelServer  # the server this handler answers for

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        loaded = self.server.loaded
        if self.path in ("/health", "/"):
            self._send(
                200,
                {
                    "status": "ok",
                    "model": loaded.name,
                    "version": loaded.version.version,
                    "served": self.server.ref,
                },
            )
        elif self.path == "/metadata":
            self._send(200, loaded.version.to_dict(full=True))
        else:
            self._send(404, {"error": {"code": "not_found", "message": self.path}})

    def do_POST(self):
        loaded = self.server.loaded
        valid = ("/predict", "/invocations", f"/mlinfra/api/models/{loaded.name}/predict")
        if self.path not in valid:
            self._send(404, {"error": {"code": "not_found", "message": self.path}})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError as exc:
                raise InvalidInput(f"request body is not valid JSON: {exc}") from exc
            predictions = loaded.predict_records(records_from_body(body))
            self._send(
                200,
                {
                    "model": loaded.name,
                    "version": loaded.version.version,
                    "predictions": predictions,
                },
            )
        except MLInfraError as exc:
            self._send(exc.http_status, exc.to_dict())
        except Exception as exc:  # the model's own code failed on these records
            self._send(
                422,
                {"error": {"code": "prediction_failed", "message": f"{type(exc).__name__}: {exc}"}},
            )


class ModelServer(ThreadingHTTPServer):
    """Predicts with ``ref``. A ref that can move (``name@alias``, or ``name`` for the latest
    version) is re-resolved every ``refresh`` seconds: when it points at another version, that
    version is loaded beside the one serving and then swapped in, so requests never wait for
    a load and never see a half-loaded model. A pinned ``name:3`` is loaded once."""

    daemon_threads = True

    def __init__(
        self,
        store,
        ref: str,
        address: tuple[str, int],
        *,
        refresh: float = 10.0,
        verbose: bool = False,
    ) -> None:
        self.store = store
        self.ref = ref
        self.verbose = verbose
        self.loaded = store.load(ref)
        super().__init__(address, _Handler)
        self.refresh = refresh if ":" not in ref else 0.0
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        if self.refresh > 0:
            self._follower = threading.Thread(
                target=self._follow, daemon=True, name="mlinfra-serve-follow"
            )
            self._follower.start()

    def check_for_new_version(self) -> bool:
        """Load and swap in the version ``ref`` points at now; True when it changed."""
        current = self.store.get(self.ref)
        if current.id == self.loaded.version.id:
            return False
        previous = self.loaded.ref
        self.loaded = self.store.load(current.ref)  # one attribute swap: atomic
        log.warning("%s now points at %s (was %s): serving it", self.ref, current.ref, previous)
        return True

    def _follow(self) -> None:
        while not self._stop.wait(self.refresh):
            try:
                self.check_for_new_version()
            except Exception as exc:  # keep serving the loaded version
                log.warning("cannot re-resolve %s: %s", self.ref, exc)

    def server_close(self) -> None:
        self._stop.set()
        super().server_close()


def make_server(
    store,
    ref: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    verbose: bool = False,
    refresh: float = 10.0,
) -> ModelServer:
    """An HTTP server predicting with ``ref``; see :class:`ModelServer`."""
    return ModelServer(store, ref, (host, port), refresh=refresh, verbose=verbose)


__all__ = ["batch_predict", "write_dockerfile", "make_server", "ModelServer", "records_from_body"]
