"""A team on a real JupyterHub (see conftest.py): alice, bob and an admin, each with their own
single-user JupyterLab server and kernels in remote mode, and the central mlinfra service, which
alone holds the PostgreSQL catalog and the S3 bucket's credentials.

Identity and groups come from the Hub: a request through the proxy with bob's token is bob,
in bob's groups, whatever he sends. Alice works in her kernel (registers a model, protects
its alias, defines a private and a team feature view, creates a job); bob, through his own
server and kernel, cannot see her private view, cannot move her protected alias, cannot make
her job run his notebook, cannot raise his quota; the admin can do what bob cannot; the audit
log shows who did what, bob's refusals included, over REST and the CLI.

The tests of this module run in order on one Hub (its start-up is most of the time).
"""

from __future__ import annotations

import json

import nbformat
import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _notebook(source: str) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("seconds = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(source),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return json.loads(nbformat.writes(nb))


def _put_notebook(user, path: str, source: str) -> None:
    r = user.session.put(
        f"{user.base}/api/contents/{path}",
        timeout=60,
        json={"type": "notebook", "format": "json", "content": _notebook(source)},
    )
    assert r.status_code in (200, 201), r.text


def test_identity_and_groups_come_from_the_hub(hub):
    seen = {}
    for name in ("alice", "bob", "admin"):
        r = hub.user(name).rest("GET", "health")
        assert r.status_code == 200, r.text
        health = r.json()
        seen[name] = (health["user"], health["teams"], health["roles"])
        assert health["catalog"]["backend"] == "postgresql"
        assert health["artifacts"]["backend"] == "s3"
    assert seen == {
        "alice": ("alice", ["team-a"], []),
        "bob": ("bob", ["team-b"], []),
        "admin": ("admin", [], ["admin"]),
    }
    # no token, or bob's token on alice's server: the Hub's proxy and the server refuse
    bob = hub.user("bob")
    assert bob.session.get(
        f"{hub.url}/user/alice/mlinfra/api/health", allow_redirects=False, timeout=60
    ).status_code in (302, 403)


def _server_environ(hub, name: str) -> dict:
    """The environment of ``name``'s single-user server process (started by the Hub)."""
    import psutil

    for proc in psutil.Process(hub.process.pid).children(recursive=True):
        try:
            if "jupyterhub-singleuser" not in " ".join(proc.cmdline()):
                continue
            environ = proc.environ()
        except psutil.Error:
            continue
        if environ.get("JUPYTERHUB_USER") == name:
            return environ
    raise AssertionError(f"no single-user server process of {name}")


def _holds_secrets(hub, environ: dict) -> list[str]:
    """The variables of ``environ`` that would give direct access to the catalog or storage."""
    return sorted(
        k
        for k, v in environ.items()
        if k in ("MLINFRA_CATALOG_URL", "MLINFRA_ARTIFACT_ROOT", "AWS_SECRET_ACCESS_KEY")
        or k.startswith("JUPYTER_CONFIG")
        or hub.catalog_url in v
        or hub.s3_secret in v
    )


def test_servers_and_kernels_hold_no_catalog_or_storage_credentials(hub):
    """The single-user servers and their kernels know only the service's URL and their own
    Hub token: no catalog URL, artifact root or S3 secret, in their environment or config."""
    for name in ("alice", "bob", "admin"):
        server_env = _server_environ(hub, name)
        assert server_env["MLINFRA_SERVICE_URL"] == hub.service_url
        assert server_env.get("JUPYTERHUB_API_TOKEN")
        assert _holds_secrets(hub, server_env) == [], name
    out = hub.user("alice").run("""
        import json, os
        from jupyter_mlinfra.core.errors import MLInfraError
        from jupyter_mlinfra.core.workspace import get_workspace
        ws = get_workspace(refresh=True)
        try:
            ws.catalog
            opened = True
        except MLInfraError:
            opened = False
        print(json.dumps({"env": dict(os.environ), "remote": ws.remote.url,
                          "catalog_url": str(ws.config.settings.catalog_url or ""),
                          "opened": opened}))
    """)
    kernel = json.loads(out.strip().splitlines()[-1])
    assert kernel["remote"] == hub.service_url and not kernel["opened"]
    assert _holds_secrets(hub, kernel["env"]) == []
    assert hub.catalog_url not in kernel["catalog_url"]


def test_alice_works_in_her_kernel(hub):
    alice = hub.user("alice")
    _put_notebook(alice, "score.ipynb", "print('alice scores', seconds)")
    out = alice.run("""
        import json
        import pandas as pd
        from sklearn.dummy import DummyClassifier
        from jupyter_mlinfra import features, jobs, models

        m = DummyClassifier().fit([[0], [1]], [0, 1])
        v1 = models.register("churn", m, figures=[], metrics={"auc": 0.5})
        v2 = models.register("churn", m, figures=[], metrics={"auc": 0.6})
        models.set_alias("churn", "production", 1, protected=True)
        features.entity("customer", ["customer_id"])
        rows = pd.DataFrame({"customer_id": [1, 2],
                             "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"],
                                                               utc=True),
                             "spend": [1.0, 2.0]})
        features.register("alice_private", entities="customer", source=rows,
                          visibility="private")
        features.register("alice_team", entities="customer", source=rows, visibility="team")
        job = jobs.create("nightly", "score.ipynb", visibility="public")
        print(json.dumps({"versions": [v1.version, v2.version], "owner": v1.owner,
                          "job": job["id"], "job_owner": job["owner"]}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["versions"] == [1, 2] and result["owner"] == "alice"
    assert result["job_owner"] == "alice"
    hub.alice_job = result["job"]
    views = alice.rest("GET", "features").json()
    names = {v["name"] for v in (views["items"] if isinstance(views, dict) else views)}
    assert {"alice_private", "alice_team"} <= names


def test_bob_cannot_see_move_run_as_her_or_raise_his_quota(hub):
    bob = hub.user("bob")
    # alice's private view (and her team's, bob being in another team) is not there for him
    for view in ("alice_private", "alice_team"):
        r = bob.rest("GET", f"features/views/{view}")
        assert r.status_code == 404, r.text
    listed = bob.rest("GET", "features").json()
    names = {v["name"] for v in (listed["items"] if isinstance(listed, dict) else listed)}
    assert not names & {"alice_private", "alice_team"}
    # her protected alias does not move for him, over REST or from his kernel
    r = bob.rest("PUT", "models/churn/aliases/production", json={"version": 2})
    assert r.status_code == 403 and "belongs to alice" in r.json()["error"]["message"]
    with pytest.raises(Exception) as refused:  # conftest's KernelError
        bob.run("""
            from jupyter_mlinfra import models
            models.set_alias("churn", "production", 2)
        """)
    assert getattr(refused.value, "ename", None) == "PermissionDenied", refused.value
    # her (public) job does not run his notebook: he cannot point it at his
    _put_notebook(bob, "mine.ipynb", "print('bob was here')")
    r = bob.rest("PATCH", f"jobs/{hub.alice_job}", json={"notebook": "mine.ipynb"})
    assert r.status_code == 403, r.text
    job = bob.rest("GET", f"jobs/{hub.alice_job}").json()
    assert job["notebook"] == "score.ipynb" and job["owner"] == "alice"
    # his quota is the deployment's (2 waiting, 1 running), whatever his kernel's environment
    # says: the limit is read from the catalog, where the servers published it
    _put_notebook(bob, "slow.ipynb", "import time\ntime.sleep(seconds)")
    out = bob.run("""
        import os, json
        from jupyter_mlinfra import jobs
        from jupyter_mlinfra.core.errors import QuotaExceeded
        os.environ["MLINFRA_JOBS_MAX_QUEUED_PER_USER"] = "100"
        os.environ["MLINFRA_JOBS_MAX_RUNNING_PER_USER"] = "100"
        accepted, refused = [], []
        for i in range(4):
            try:
                accepted.append(jobs.run("slow.ipynb", parameters={"seconds": 60})["id"])
            except QuotaExceeded as exc:
                refused.append(str(exc))
        print(json.dumps({"accepted": accepted, "refused": refused}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["refused"] and len(result["accepted"]) <= 3, result
    assert "quota" in result["refused"][0].lower() or "at most" in result["refused"][0]
    for run_id in result["accepted"]:
        r = bob.rest("POST", f"runs/{run_id}/cancel")
        assert r.status_code == 200, r.text


def test_the_admin_can(hub):
    admin = hub.user("admin")
    r = admin.rest("GET", "features/views/alice_private")
    assert r.status_code == 200 and r.json()["owner"] == "alice"
    r = admin.rest("PUT", "models/churn/aliases/production", json={"version": 2})
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    r = admin.rest("PATCH", f"jobs/{hub.alice_job}", json={"description": "curated"})
    assert r.status_code == 200 and r.json()["description"] == "curated", r.text


def test_the_side_panel_works_through_her_own_server(hub):
    """Every endpoint the side panel calls, through alice's single-user server (which holds no
    catalog: it forwards to the service with her server's token): jobs, runs, models,
    features, provenance, executed notebooks, audit."""
    import time

    alice = hub.user("alice")

    def ok(method: str, path: str, **kwargs):
        r = alice.rest(method, path, **kwargs)
        assert r.status_code in (200, 201), (method, path, r.status_code, r.text[:300])
        return r

    assert "nightly" in {j["name"] for j in ok("GET", "jobs").json()["items"]}
    assert ok("GET", f"jobs/{hub.alice_job}").json()["owner"] == "alice"
    params = ok("GET", "jobs/notebook-parameters", params={"notebook": "score.ipynb"}).json()
    assert "seconds" in json.dumps(params)
    run = ok("POST", "runs", json={"notebook": "score.ipynb", "parameters": {"seconds": 7}})
    run_id = run.json()["id"]
    deadline = time.monotonic() + 120
    while (state := ok("GET", f"runs/{run_id}").json()["state"]) not in (
        "succeeded",
        "failed",
        "cancelled",
        "timed_out",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.3)
    assert state == "succeeded"
    assert run_id in {r["id"] for r in ok("GET", "runs").json()["items"]}
    assert "alice scores 7" in json.dumps(ok("GET", f"runs/{run_id}/output").json())
    ok("GET", f"runs/{run_id}/log", params={"offset": 0})

    assert "churn" in {m["name"] for m in ok("GET", "models").json()["items"]}
    version = ok("GET", "models/churn/versions/1").json()
    assert version["owner"] == "alice" and ok("GET", "models/churn").json()["name"] == "churn"
    ok("GET", "models/churn/compare", params={"a": "1", "b": "2"})
    artifact = version["artifacts"][0]
    blob = ok("GET", f"models/churn/versions/1/artifacts/{artifact['name']}").content
    assert len(blob) == artifact["size"]

    assert {"alice_private", "alice_team"} <= {
        v["name"] for v in ok("GET", "features").json()["items"]
    }
    assert ok("GET", "features/views/alice_private").json()["owner"] == "alice"

    assert ok("GET", "provenance", params={"path": "score.ipynb"}).json()
    # recording from the first cell is a switch of her own kernels (her IPython profile),
    # answered by her server, not the service's environment
    scopes = ok("GET", "provenance/recording").json()["scopes"]
    assert scopes["user"]["path"].startswith(str(hub.folder / "home" / "alice")), scopes
    ok("POST", "provenance/check", json={"path": "score.ipynb"})
    ok("GET", "notebooks")
    mine = ok("GET", "audit").json()["items"]
    assert mine and {e["user"] for e in mine} == {"alice"}


def test_the_central_service_takes_identity_from_the_hub(hub):
    """bob's kernel (remote mode: the service's URL, his server's own Hub token): the
    service asks the Hub who he is; claiming to be alice in his environment changes nothing."""
    bob = hub.user("bob")
    out = bob.run(f"""
        import json, os
        from jupyter_mlinfra import features, jobs, models
        from jupyter_mlinfra.core.errors import NotFound, PermissionDenied
        from jupyter_mlinfra.core.workspace import get_workspace
        os.environ["MLINFRA_USER"] = "alice"
        try:
            health = get_workspace(refresh=True).health()
            try:
                jobs.update({hub.alice_job!r}, description="bob's now")
                refused = None
            except PermissionDenied as exc:
                refused = str(exc)
            try:
                models.set_alias("churn", "production", 1)
                alias_refused = False
            except PermissionDenied:
                alias_refused = True
            try:
                features.describe("alice_private")
                hidden = False
            except NotFound:
                hidden = True
        finally:
            del os.environ["MLINFRA_USER"]
            get_workspace(refresh=True)
        print(json.dumps({{"user": health["user"], "teams": health["teams"],
                          "refused": refused, "alias_refused": alias_refused,
                          "hidden": hidden}}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["user"], result["teams"]) == ("bob", ["team-b"]), result
    assert result["refused"] and "belongs to alice" in result["refused"]
    assert result["alias_refused"] and result["hidden"], result
    # the admin's CLI through the service: the Hub's group makes her an admin there
    out = hub.user("admin").cli("audit", "--json", "--user", "bob", "--action", "jobs")
    assert out.returncode == 0, out.stderr
    assert [(e["user"], e["action"], e["outcome"]) for e in json.loads(out.stdout)["items"]][
        :2
    ] == [("bob", "jobs.update", "denied"), ("bob", "jobs.cancel", "ok")]
    out = hub.user("alice").cli("audit", "--user", "bob")
    assert out.returncode == 5 and "admins and auditors" in out.stderr


def test_the_audit_log_shows_who_did_what(hub):
    admin, bob, alice = hub.user("admin"), hub.user("bob"), hub.user("alice")
    r = admin.rest("GET", "audit", params={"limit": 200})
    assert r.status_code == 200, r.text
    lines = [(e["user"], e["action"], e["outcome"]) for e in reversed(r.json()["items"])]
    for expected in [
        ("alice", "models.register", "ok"),
        ("alice", "models.alias", "ok"),
        ("alice", "features.define", "ok"),
        ("alice", "jobs.create", "ok"),
        ("bob", "models.alias", "denied"),
        ("bob", "jobs.update", "denied"),
        ("bob", "jobs.cancel", "ok"),
        ("admin", "models.alias", "ok"),
        ("admin", "jobs.update", "ok"),
    ]:
        assert expected in lines, (expected, lines)
    assert lines.index(("bob", "models.alias", "denied")) < lines.index(
        ("admin", "models.alias", "ok")
    )
    # over REST, from his kernel, and from his kernel through the service
    assert lines.count(("bob", "models.alias", "denied")) == 3
    moved = [
        e for e in r.json()["items"] if e["user"] == "admin" and e["action"] == "models.alias"
    ][0]
    assert moved["roles"] == ["admin"] and moved["target"] == "churn"
    # bob reads his own lines, not alice's
    mine = bob.rest("GET", "audit").json()["items"]
    assert mine and {e["user"] for e in mine} == {"bob"}
    assert bob.rest("GET", "audit", params={"user": "alice"}).status_code == 403
    # the CLI, in alice's environment: her own lines
    out = alice.cli("audit", "--json", "--action", "models")
    assert out.returncode == 0, out.stderr
    assert {(e["user"], e["action"]) for e in json.loads(out.stdout)["items"]} == {
        ("alice", "models.register"),
        ("alice", "models.alias"),
    }
    denied = bob.cli("audit", "--outcome", "denied")
    assert denied.returncode == 0, denied.stderr
    assert "models.alias" in denied.stdout and "jobs.update" in denied.stdout
