"""One configuration, pointed at team-scale storage: PostgreSQL catalog and S3 artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mlinfra.core.errors import NotFound
from jupyter_mlinfra.core.workspace import Workspace, get_workspace


def test_default_workspace_is_embedded(workspace, mlinfra_env):
    health = workspace.health()
    assert health["catalog"]["backend"] == "sqlite"
    assert health["artifacts"] == {"backend": "local", "root": str(mlinfra_env / "artifacts")}
    assert (mlinfra_env / "catalog.db").exists()
    with pytest.raises(NotFound):
        workspace.service("no-such-capability")


@pytest.mark.postgres
def test_same_configuration_on_postgresql_and_s3(
    mlinfra_env, monkeypatch, pg_catalog_url, s3_bucket
):
    root, endpoint = s3_bucket
    monkeypatch.setenv(
        "MLINFRA_CATALOG_URL", pg_catalog_url.replace("postgres@", "postgres:topsecret@")
    )  # trust auth ignores the password
    monkeypatch.setenv("MLINFRA_ARTIFACT_ROOT", root)
    monkeypatch.setenv("MLINFRA_S3_ENDPOINT_URL", endpoint)
    ws = Workspace.open()
    health = ws.health()
    assert health["catalog"]["backend"] == "postgresql"
    assert "topsecret" not in str(health) and "topsecret" not in ws.info_text()
    assert health["artifacts"]["backend"] == "s3"
    assert health["artifacts"]["endpoint_url"] == endpoint
    ws.artifacts.put("round/trip.txt", b"through S3")
    assert ws.artifacts.get("round/trip.txt") == b"through S3"
    ws.close()


def test_get_workspace_follows_environment_changes(mlinfra_env, monkeypatch, tmp_path):
    first = get_workspace()
    assert get_workspace() is first
    monkeypatch.setenv("MLINFRA_HOME", str(tmp_path / "other-home"))
    second = get_workspace()
    assert second is not first
    assert second.config.home == tmp_path / "other-home"


def test_get_workspace_follows_config_file_edits(mlinfra_env, tmp_path, wait_until):
    """The configuration is resolved once per process, yet a config file written or edited
    later is seen: at once with refresh=True, and by itself after the file check interval."""
    import json
    import os

    from jupyter_mlinfra.core.config import ConfigSources

    first = get_workspace()
    config_dir = Path(os.environ["JUPYTER_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    config_file = config_dir / "jupyter_mlinfra_config.json"
    config_file.write_text(json.dumps({"MLInfra": {"user": "from-file"}}))
    assert get_workspace(refresh=True).user == "from-file"
    assert get_workspace() is not first

    config_file.write_text(json.dumps({"MLInfra": {"user": "edited-later"}}))
    wait_until(
        lambda: get_workspace().user == "edited-later",
        "the edited config file to be picked up",
        timeout=ConfigSources.file_check_interval + 5,
    )
