"""The central service's job kernels hold no credentials: a run's kernel gets only the
service's URL, a run token for the run and its owner, the run id and the owner's name, and
works in remote mode (metrics, artifacts, model registrations go through the service as the
run's owner). A run token acts as its owner only, for its own run, while the run runs.

Each test starts a real ``jupyter mlinfra service`` (SQLite, or PostgreSQL with S3) whose
scheduler runs the notebooks in real kernels."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _cell(cell_id: str, source: str, tags: tuple[str, ...] = ()) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"tags": list(tags)} if tags else {},
        "outputs": [],
        "source": source,
    }


# prints its environment (os.environ and the process's own /proc/self/environ), logs a
# metric and an artifact, registers a model, tries to move another user's protected alias,
# then waits until the test lets it end (so the test can use its token while it runs)
ENV_NOTEBOOK = {
    "cells": [
        _cell("params", "model_name = 'm'\nprotected_model = ''\nrelease = ''", ("parameters",)),
        _cell(
            "env",
            "import json, os\n"
            "print('ENV=' + json.dumps(dict(os.environ)))\n"
            "with open('/proc/self/environ', 'rb') as f:\n"
            "    print('PROC=' + json.dumps(f.read().decode('utf-8', 'replace')))\n",
        ),
        _cell(
            "log",
            "import numpy as np\n"
            "import jupyter_mlinfra\n"
            "from jupyter_mlinfra import models\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "jupyter_mlinfra.log_metric('accuracy', 0.75, step=3)\n"
            "jupyter_mlinfra.log_artifact('notes/summary.txt', 'hello from the run')\n"
            "X = np.array([[0.0, 1.0], [1.0, 0.0]] * 5)\n"
            "y = np.array([0, 1] * 5)\n"
            "v = models.register(model_name, LogisticRegression().fit(X, y), input_example=X[:2])\n"
            "print('REGISTERED', v.name, v.version, v.owner)\n",
        ),
        _cell(
            "alias",
            "from jupyter_mlinfra.core.errors import PermissionDenied\n"
            "if protected_model:\n"
            "    try:\n"
            "        models.set_alias(protected_model, 'production', 2)\n"
            "        print('ALIAS MOVED')\n"
            "    except PermissionDenied as exc:\n"
            "        print('ALIAS REFUSED', exc)\n",
        ),
        _cell(
            "wait",
            "import time\nprint('WAITING')\n"
            "while release and not os.path.exists(release):\n    time.sleep(0.05)\n",
        ),
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

SECRET_NAMES = (
    "MLINFRA_CATALOG_URL",
    "MLINFRA_ARTIFACT_ROOT",
    "MLINFRA_S3_ENDPOINT_URL",
    "MLINFRA_SERVICE_RUN_TOKEN_SECRET",
    "MLINFRA_JOBS_SERVICE_URL",
    "MLINFRA_SERVICE_TOKENS_FILE",
    "MLINFRA_ROLES",
    "MLINFRA_TEAMS",
)


def _log_line(jobs, run_id: str, prefix: str, timeout: float = 600) -> str:
    """The first line of the run's log that starts with ``prefix`` (waiting for it)."""
    deadline = time.monotonic() + timeout
    while True:
        log = jobs.run_log(run_id)
        for line in log["lines"]:
            for text in line["text"].splitlines():
                if text.startswith(prefix):
                    return text
        if log["state"] in ("succeeded", "failed", "cancelled", "timed_out"):
            raise AssertionError(f"run ended ({log['state']}) without {prefix!r}: {log}")
        assert time.monotonic() < deadline, f"no {prefix!r} in the run's log"
        time.sleep(0.2)


def _as(service, token: str, method: str, path: str, **kwargs):
    return requests.request(
        method,
        service.url + "mlinfra/api/" + path,
        headers={"Authorization": f"token {token}"},
        timeout=60,
        **kwargs,
    )


def _guarded_model(service, remote) -> str:
    """alice's model with two versions and a protected alias on version 1."""
    from sklearn.linear_model import LogisticRegression

    name = f"guarded-{uuid.uuid4().hex[:6]}"
    models = remote(service, "alice").service("models")
    X = [[0.0, 1.0], [1.0, 0.0]] * 5
    y = [0, 1] * 5
    for c in (1.0, 0.5):
        models.register(name, LogisticRegression(C=c).fit(X, y), input_example=X[:2])
    models.set_alias(name, "production", 1, protected=True)
    return name


def check_job_kernel(
    service, remote, tmp_path, *, secrets: tuple[str, ...] = (), values: tuple[str, ...] = ()
) -> None:
    """Bob's job on ``service``: its kernel's environment, what it logs and registers, and
    what its run token may do while it runs and after."""
    (service.root / "env.ipynb").write_text(json.dumps(ENV_NOTEBOOK))
    protected = _guarded_model(service, remote)
    model_name = f"from-run-{uuid.uuid4().hex[:6]}"
    release = tmp_path / f"release-{uuid.uuid4().hex[:6]}"
    bob = remote(service, "bob")
    jobs = bob.service("jobs")
    run = jobs.submit(
        "env.ipynb",
        parameters={
            "model_name": model_name,
            "protected_model": protected,
            "release": str(release),
        },
        timeout_seconds=600,
    )
    try:
        environ = json.loads(_log_line(jobs, run["id"], "ENV=")[4:])
        proc = json.loads(_log_line(jobs, run["id"], "PROC=")[5:])
        # 1. only the service's URL, a run token, the run id and the owner's name
        assert environ["MLINFRA_SERVICE_URL"] == service.url
        assert environ["MLINFRA_RUN_ID"] == run["id"] and environ["MLINFRA_USER"] == "bob"
        token = environ["MLINFRA_SERVICE_TOKEN"]
        assert token.startswith("mlinfra-run.")
        leaked = [k for k in environ if k in SECRET_NAMES or k.startswith(("AWS_", "JUPYTERHUB_"))]
        assert leaked == [], leaked
        for text in (json.dumps(environ), proc):  # nor any value, under any name
            for secret in (service.catalog_url, service.run_token_secret, *secrets):
                assert secret not in text
            assert "AWS_" not in text and "MLINFRA_CATALOG_URL" not in text
        assert not set(values) & set(environ.values())
        assert "MLINFRA_SERVICE_TOKEN" not in proc  # set by the run's set-up, not inherited

        # the alias move inside the run was refused: the run acts as bob
        assert "ALIAS REFUSED" in _log_line(jobs, run["id"], "ALIAS ")
        registered = _log_line(jobs, run["id"], "REGISTERED ").split()
        assert registered[1:] == [model_name, "1", "bob"]

        # 2. the token, while the run runs: bob, and nothing beyond bob or beyond this run
        assert _as(service, token, "GET", "health").json()["user"] == "bob"
        from jupyter_mlinfra.core.jobs.run_tokens import RunTokens

        signer = RunTokens(service.run_token_secret)
        for forged in (
            signer.issue("bob", run["id"], lifetime=-1),  # expired
            signer.issue("alice", run["id"]),  # not the run's owner
        ):
            assert _as(service, forged, "GET", "health").status_code == 403
        moved = _as(
            service,
            token,
            "PUT",
            f"models/{protected}/aliases/production",
            json={"version": 2},
        )
        assert moved.status_code == 403, moved.text
        other = jobs.submit("train.ipynb", parameters={"x": 1})
        jobs.wait_for_runs([other["id"]], timeout=600)
        foreign = _as(
            service, token, "POST", f"runs/{other['id']}/metrics", json={"name": "x", "value": 1}
        )
        assert foreign.status_code == 403 and "run token" in foreign.json()["error"]["message"]
        own = _as(
            service, token, "POST", f"runs/{run['id']}/metrics", json={"name": "extra", "value": 2}
        )
        assert own.status_code == 201, own.text
    finally:
        release.write_text("go")
    done = jobs.wait_for_runs([run["id"]], timeout=600)[0]
    assert done["state"] == "succeeded", jobs.run_log(run["id"])

    # what the run logged and registered is in the catalog, owned by bob
    assert done["owner"] == "bob"
    assert done["metrics"]["accuracy"] == 0.75 and done["metrics"]["extra"] == 2
    carol = remote(service, "carol")  # an admin reads it as stored
    artifact = _as(
        service, service.token("bob"), "GET", f"runs/{run['id']}/artifacts/notes/summary.txt"
    )
    assert artifact.status_code == 200 and artifact.content == b"hello from the run"
    version = carol.service("models").get(model_name)
    assert version.owner == "bob" and version.version == 1
    assert carol.service("models").get(f"{protected}@production").version == 1

    # 3. after the run: the token is refused
    assert _as(service, token, "GET", "health").status_code == 403
    refused = _as(
        service, token, "POST", f"runs/{run['id']}/metrics", json={"name": "late", "value": 1}
    )
    assert refused.status_code == 403


def test_job_kernels_hold_no_credentials_sqlite(service, remote, tmp_path):
    check_job_kernel(service, remote, tmp_path)


@pytest.mark.postgres
def test_job_kernels_hold_no_credentials_postgres_s3(
    tmp_path, pg_catalog_url, s3_bucket, service_kit, remote
):
    import os

    root, endpoint = s3_bucket
    svc = service_kit.start(
        tmp_path / "pg-s3",
        pg_catalog_url,
        extra_env={"MLINFRA_ARTIFACT_ROOT": root, "MLINFRA_S3_ENDPOINT_URL": endpoint},
    )
    try:
        health = remote(svc, "alice").health()
        assert health["catalog"]["backend"] == "postgresql"
        check_job_kernel(
            svc,
            remote,
            tmp_path,
            secrets=(root, pg_catalog_url),
            values=(endpoint, os.environ["AWS_SECRET_ACCESS_KEY"]),
        )
    finally:
        service_kit.stop(svc)


REPRODUCE_NOTEBOOK = {
    "cells": [
        _cell("params", "model_name = 'm'", ("parameters",)),
        _cell(
            "train",
            "import numpy as np\n"
            "from jupyter_mlinfra import models\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "X = np.array([[0.0, 1.0], [1.0, 0.0]] * 5)\n"
            "y = np.array([0, 1] * 5)\n"
            "model = LogisticRegression().fit(X, y)\n"
            "v = models.register(model_name, model, input_example=X[:2], metrics={'acc': 1.0})\n"
            "print('REGISTERED', v.version, getattr(v, 'registered', True))\n",
        ),
    ],
    "metadata": ENV_NOTEBOOK["metadata"],
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_reproducing_through_the_service_captures_the_run_kernels_writes(service, remote):
    """A version registered by a job run, reproduced by the service (as a job run whose
    kernel holds only a run token): the re-run's registration is captured, not applied."""
    (service.root / "repro.ipynb").write_text(json.dumps(REPRODUCE_NOTEBOOK))
    name = f"repro-{uuid.uuid4().hex[:6]}"
    bob = remote(service, "bob")
    jobs = bob.service("jobs")
    run = jobs.submit("repro.ipynb", parameters={"model_name": name})
    done = jobs.wait_for_runs([run["id"]], timeout=600)[0]
    assert done["state"] == "succeeded", jobs.run_log(run["id"])
    models = bob.service("models")
    assert models.get(name).version == 1
    result = models.reproduce(f"{name}:1")
    assert result["error"] is None, result
    kinds = [w["kind"] for w in result["captured_writes"]]
    assert "model_version" in kinds or any("register" in k for k in kinds), result
    assert models.get(name).version == 1  # the re-run registered no version 2
