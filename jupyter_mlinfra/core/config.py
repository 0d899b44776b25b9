"""The one configuration read by the kernel extension, the server extension and the CLI.

Sources, lowest to highest priority:

1. the trait defaults (everything lives under ``home``);
2. ``jupyter_mlinfra_config.json`` / ``jupyter_mlinfra_config.py`` files in the Jupyter config
   path (``jupyter --paths``), system folders first, the user's folder last;
3. the Jupyter server's own configuration (``c.MLInfra.catalog_url = ...``), when running
   inside the server;
4. environment variables ``MLINFRA_<TRAIT NAME IN CAPITALS>`` (``MLINFRA_CATALOG_URL``...).

Later capabilities add their settings as traits on :class:`MLInfra`; each one gets its
environment variable and its provenance in ``jupyter mlinfra info`` for free.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from traitlets import Bool, Float, Int, Unicode, TraitError
from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader, ConfigFileNotFound

from .errors import ConfigurationError

CONFIG_FILE_STEM = "jupyter_mlinfra_config"
ENV_PREFIX = "MLINFRA_"


class MLInfra(Configurable):
    """Settings shared by every door onto jupyter_mlinfra."""

    home = Unicode(
        "",
        help="Folder for the embedded defaults (catalog file, artifacts, online store). "
        "Default: <jupyter data dir>/mlinfra.",
    ).tag(config=True)

    catalog_url = Unicode(
        "",
        help="SQLAlchemy URL of the catalog. Default: a SQLite file in home. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db.",
    ).tag(config=True)

    artifact_root = Unicode(
        "",
        help="Where artifacts are stored: a local folder (default: home/artifacts) or "
        "s3://bucket/prefix.",
    ).tag(config=True)

    s3_endpoint_url = Unicode(
        "",
        help="Endpoint URL for S3-compatible stores (MinIO, a local test endpoint). "
        "Empty: AWS S3 through the standard credential chain.",
    ).tag(config=True)

    user = Unicode(
        "",
        help="Identity recorded as owner. Default: the OS user (kernel, CLI) or the Jupyter "
        "user (server).",
    ).tag(config=True)

    def resolved_home(self) -> Path:
        if self.home:
            return Path(self.home).expanduser()
        from jupyter_core.paths import jupyter_data_dir

        return Path(jupyter_data_dir()) / "mlinfra"

    def resolved_catalog_url(self) -> str:
        if self.catalog_url:
            return self.catalog_url
        return f"sqlite:///{self.resolved_home() / 'catalog.db'}"

    def resolved_artifact_root(self) -> str:
        if self.artifact_root:
            return self.artifact_root
        return str(self.resolved_home() / "artifacts")

    def resolved_user(self) -> str:
        if self.user:
            return self.user
        try:
            return getpass.getuser()
        except Exception:  # no login name (some containers)
            return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


@dataclass
class ResolvedConfig:
    """A configured :class:`MLInfra` plus where each value came from."""

    settings: MLInfra
    sources: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.settings.resolved_home()

    @property
    def catalog_url(self) -> str:
        return self.settings.resolved_catalog_url()

    @property
    def artifact_root(self) -> str:
        return self.settings.resolved_artifact_root()

    @property
    def s3_endpoint_url(self) -> str | None:
        return self.settings.s3_endpoint_url or None

    @property
    def user(self) -> str:
        return self.settings.resolved_user()

    def describe(self) -> list[dict[str, str]]:
        """Every setting with its effective value (secrets redacted) and its source."""
        effective = {
            "home": str(self.home),
            "catalog_url": self.catalog_url,
            "artifact_root": self.artifact_root,
            "user": self.user,
        }
        rows = []
        for name in sorted(self.settings.trait_names(config=True)):
            value = effective.get(name, getattr(self.settings, name))
            source = self.sources.get(name, "default")
            if name in effective and name not in self.sources:
                source = "default" if name != "user" else "default (OS user)"
            rows.append({"name": name, "value": redact(str(value)), "source": source,
                         "env": ENV_PREFIX + name.upper()})
        return rows

    def fingerprint(self) -> tuple:
        return tuple((row["name"], row["value"]) for row in self.describe())


def redact(value: str) -> str:
    """Hide passwords in URLs and secret-looking query parameters."""
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    netloc = parts.netloc
    changed = False
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
            changed = True
        netloc = f"{creds}@{host}"
    query = parts.query
    if query:
        pairs = []
        for pair in query.split("&"):
            key, _, val = pair.partition("=")
            if any(word in key.lower() for word in ("secret", "password", "token", "key")):
                val = "***"
                changed = True
            pairs.append(f"{key}={val}" if _ else key)
        query = "&".join(pairs)
    if not changed:
        return value
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _config_files() -> list[Path]:
    """Config files in priority order, lowest first."""
    from jupyter_core.paths import jupyter_config_path

    found: list[Path] = []
    for folder in reversed(jupyter_config_path()):
        for suffix in (".json", ".py"):
            candidate = Path(folder) / f"{CONFIG_FILE_STEM}{suffix}"
            if candidate.is_file():
                found.append(candidate)
    return found


def _load_file(path: Path) -> Config:
    loader_cls = JSONFileConfigLoader if path.suffix == ".json" else PyFileConfigLoader
    loader = loader_cls(path.name, path=str(path.parent))
    try:
        return loader.load_config()
    except ConfigFileNotFound:
        return Config()
    except Exception as exc:  # a syntax error in a user's file
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc


def _coerce(trait: Any, raw: str) -> Any:
    if isinstance(trait, Bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(trait, Int):
        return int(raw)
    if isinstance(trait, Float):
        return float(raw)
    return raw


def resolve_config(server_config: Config | None = None,
                   environ: dict[str, str] | None = None) -> ResolvedConfig:
    """Build the effective configuration from files, the server's config and the environment."""
    environ = os.environ if environ is None else environ
    merged = Config()
    sources: dict[str, str] = {}
    files = _config_files()
    for path in files:
        cfg = _load_file(path)
        for name in cfg.get("MLInfra", {}):
            sources[name] = f"file {path}"
        merged.merge(cfg)
    if server_config is not None and "MLInfra" in server_config:
        section = Config({"MLInfra": server_config["MLInfra"]})
        for name in section["MLInfra"]:
            sources[name] = "server config"
        merged.merge(section)
    try:
        settings = MLInfra(config=merged)
    except TraitError as exc:
        raise ConfigurationError(f"invalid MLInfra setting: {exc}") from exc
    for name, trait in settings.traits(config=True).items():
        key = ENV_PREFIX + name.upper()
        if key in environ and environ[key] != "":
            try:
                setattr(settings, name, _coerce(trait, environ[key]))
            except (TraitError, ValueError) as exc:
                raise ConfigurationError(f"invalid value in {key}: {exc}") from exc
            sources[name] = f"env {key}"
    return ResolvedConfig(settings=settings, sources=sources, files=[str(p) for p in files])
