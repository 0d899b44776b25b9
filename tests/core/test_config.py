"""Configuration: files < server config < environment, with each value's source."""

from __future__ import annotations

import json

import pytest
from traitlets.config import Config

from jupyter_mlinfra.core.config import redact, resolve_config
from jupyter_mlinfra.core.errors import ConfigurationError


def _sources(resolved):
    return {row["name"]: row for row in resolved.describe()}


def test_defaults_live_under_home(mlinfra_env):
    cfg = resolve_config()
    assert cfg.home == mlinfra_env
    assert cfg.catalog_url == f"sqlite:///{mlinfra_env / 'catalog.db'}"
    assert cfg.artifact_root == str(mlinfra_env / "artifacts")
    rows = _sources(cfg)
    assert rows["home"]["source"] == "env MLINFRA_HOME"
    assert rows["catalog_url"]["source"] == "default"


def test_file_then_server_then_environment(mlinfra_env, tmp_path, monkeypatch):
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "jupyter_mlinfra_config.json").write_text(
        json.dumps(
            {
                "MLInfra": {
                    "artifact_root": "/from/file",
                    "s3_endpoint_url": "http://file:9000",
                    "user": "file-user",
                }
            }
        )
    )
    (config_dir / "jupyter_mlinfra_config.py").write_text(
        "c.MLInfra.s3_endpoint_url = 'http://pyfile:9000'\n"
    )
    server = Config()
    server.MLInfra.s3_endpoint_url = "http://server:9000"
    server.MLInfra.user = "server-user"
    monkeypatch.setenv("MLINFRA_USER", "env-user")
    cfg = resolve_config(server)
    rows = _sources(cfg)
    assert cfg.artifact_root == "/from/file"
    assert rows["artifact_root"]["source"].startswith("file ")
    assert cfg.s3_endpoint_url == "http://server:9000"
    assert rows["s3_endpoint_url"]["source"] == "server config"
    assert cfg.user == "env-user"
    assert rows["user"]["source"] == "env MLINFRA_USER"
    assert len(cfg.files) == 2


def test_broken_config_file_is_a_clear_error(mlinfra_env, tmp_path):
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "jupyter_mlinfra_config.py").write_text("c.MLInfra.home = (\n")
    with pytest.raises(ConfigurationError, match="jupyter_mlinfra_config.py"):
        resolve_config()


def test_secrets_are_never_shown(mlinfra_env, monkeypatch):
    monkeypatch.setenv("MLINFRA_CATALOG_URL", "postgresql+psycopg://alice:s3cret@db:5432/ml")
    rows = _sources(resolve_config())
    assert "s3cret" not in rows["catalog_url"]["value"]
    assert rows["catalog_url"]["value"] == "postgresql+psycopg://alice:***@db:5432/ml"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
