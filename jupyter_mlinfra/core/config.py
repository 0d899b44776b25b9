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
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from traitlets import Bool, Dict, Float, Int, TraitError, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import ConfigFileNotFound, JSONFileConfigLoader, PyFileConfigLoader

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

    artifacts_gc_every = Float(
        86400.0,
        help="Seconds between two collections of unreferenced artifact blobs (left by deletes "
        "or by a crash mid-write), done by one of the serving schedulers; 0 turns it off.",
    ).tag(config=True)

    artifacts_gc_min_age = Float(
        3600.0,
        help="Only unreferenced blobs at least this old (seconds) are collected: a younger "
        "one may belong to a write in progress.",
    ).tag(config=True)

    s3_endpoint_url = Unicode(
        "",
        help="Endpoint URL for S3-compatible stores (MinIO, a local test endpoint). "
        "Empty: AWS S3 through the standard credential chain.",
    ).tag(config=True)

    user = Unicode(
        "",
        help="Identity recorded as owner. Default: the OS user. In a Jupyter server that "
        "authenticates named users (JupyterHub), each request acts as its Jupyter user; a "
        "single-user server (token or password) acts as this user, like its kernels.",
    ).tag(config=True)

    service_url = Unicode(
        "",
        help="Remote mode: the base URL of a central `jupyter mlinfra service` (e.g. "
        "http://hub:8000/services/mlinfra/). When set, the Python API, the magics and the CLI "
        "talk to it over HTTP with MLINFRA_SERVICE_TOKEN (else JUPYTERHUB_API_TOKEN) instead "
        "of opening the catalog and the artifact store; the service decides who the caller is.",
    ).tag(config=True)

    root_dir = Unicode(
        "",
        help="Folder that job notebooks must live under (paths escaping it are refused). "
        "Default: the current directory; the server extension sets it to the server's "
        "root_dir.",
    ).tag(config=True)

    max_request_body_bytes = Int(
        64 * 1024 * 1024,
        help="REST API: the largest request body accepted (bytes); a larger "
        "one is answered 413 before it is parsed. 0: no limit of its own (jupyter_server's "
        "ServerApp.max_body_size, which bounds what is read, still applies).",
    ).tag(config=True)

    features_source_max_bytes = Int(
        256 * 1024 * 1024,
        help="Central service: the largest DataFrame source a remote client may upload for a "
        "feature view (parquet bytes, POST /features/sources, streamed to disk); a larger "
        "one is answered 413 and nothing is kept. 0: no limit of its own (jupyter_server's "
        "ServerApp.max_body_size still applies).",
    ).tag(config=True)

    model_upload_max_bytes = Int(
        8 * 1024**3,
        help="Central service: the largest model upload a remote client may send (the "
        "streamed multipart body of POST /models/{name}/captured-versions, bytes); a larger "
        "one is answered 413 before its body is read, and clients refuse it before sending. "
        "It replaces jupyter_server's ServerApp.max_body_size for this upload only. 0: no "
        "limit.",
    ).tag(config=True)

    jobs_scheduler_in_server = Bool(
        True,
        help="Run the jobs scheduler inside the Jupyter server (started and stopped "
        "with it). Turn off when a standalone `jupyter mlinfra scheduler` serves the catalog.",
    ).tag(config=True)

    jobs_executor = Unicode(
        "local",
        help="Where job runs execute: 'local' (worker processes on this machine) or "
        "'dask' (a distributed cluster at jobs_dask_address).",
    ).tag(config=True)

    jobs_workers = Int(2, help="Local executor: number of worker processes.").tag(config=True)

    jobs_dask_address = Unicode("", help="Dask executor: scheduler address (tcp://host:8786).").tag(
        config=True
    )

    jobs_dask_max_workers = Int(
        0,
        help="Dask executor: adaptive scaling maximum when the cluster supports it "
        "(0: leave the cluster's size alone).",
    ).tag(config=True)

    jobs_poll_interval = Float(1.0, help="Seconds between two passes of the scheduler loop.").tag(
        config=True
    )

    jobs_fork_kernels = Bool(
        True,
        help="Local job workers fork each run's IPython kernel from a template process "
        "that has already imported ipykernel (half a short run's CPU), instead of "
        "starting a new interpreter. Kernels of other kernelspecs start as usual.",
    ).tag(config=True)

    jobs_doorbell = Bool(
        True,
        help="Let processes of the scheduler's host wake it when they queue a run (a "
        "UDP socket on loopback), instead of waiting for its next poll.",
    ).tag(config=True)

    jobs_lease_seconds = Float(
        30.0,
        help="A running run's worker renews its lease this often (x1/3); a run whose "
        "lease expired is recovered by the scheduler.",
    ).tag(config=True)

    jobs_catchup = Unicode(
        "latest",
        help="Default catch-up policy after downtime for scheduled jobs: 'none' "
        "(skip missed ticks), 'latest' (one run for the latest missed tick) or 'all'.",
    ).tag(config=True)

    jobs_max_running_per_user = Int(
        0, help="Per-user quota: runs running at once (0: no limit)."
    ).tag(config=True)

    jobs_max_queued_per_user = Int(
        0,
        help="Per-user quota: runs queued or waiting at once; a submission beyond it is "
        "refused (0: no limit).",
    ).tag(config=True)

    jobs_user_quotas = Dict(
        {},
        help="Per-user overrides: {'alice': {'max_running': 4, 'max_queued': 100}}.",
    ).tag(config=True)

    jobs_cpus = Float(
        0.0,
        help="CPUs this scheduler's executor may hand out to runs (0: os.cpu_count()).",
    ).tag(config=True)

    jobs_memory_mb = Int(
        0,
        help="Memory (MB) this scheduler's executor may hand out to runs (0: no limit).",
    ).tag(config=True)

    jobs_record_provenance = Bool(
        True,
        help="Record provenance in every job run (loads the jupyter_mlinfra IPython "
        "extension in the run's kernel; local workers do that in the kernel they keep warm).",
    ).tag(config=True)

    jobs_service_url = Unicode(
        "",
        help="URL of the central mlinfra service as this scheduler's job kernels reach it. "
        "When set, a run's kernel holds no catalog URL, artifact root or storage credentials: "
        "only this URL, a run token for its owner (MLINFRA_SERVICE_TOKEN), MLINFRA_RUN_ID and "
        "MLINFRA_USER, and works in remote mode. `jupyter mlinfra service` sets it to its own "
        "URL; a scheduler outside it also needs the service's MLINFRA_SERVICE_RUN_TOKEN_SECRET.",
    ).tag(config=True)

    models_require_clean = Bool(
        False,
        help="Model store: refuse to register a model whose provenance shows it depends "
        "on stale cells, hidden state or out-of-order execution (otherwise the version is "
        "recorded with clean: false and the reasons, and a warning).",
    ).tag(config=True)

    models_reproduce_tolerance = Float(
        1e-6,
        help="Model store: default relative tolerance when `reproduce` compares a "
        "re-run's metrics with the recorded ones.",
    ).tag(config=True)

    verify_timeout_seconds = Float(
        600.0,
        help="Provenance verify: seconds one cell may run before verify stops the run "
        "with a 'timed out' verdict naming the cell (0: no limit). `--timeout` overrides it "
        "for one run.",
    ).tag(config=True)

    provenance_saved_log_max_bytes = Int(
        1_000_000,
        help="Provenance: the most bytes of execution log a notebook carries in its "
        "metadata when saved from JupyterLab. The current kernel session is kept in full; "
        "earlier sessions keep only the executions the current cells' replays need, the oldest "
        "dropped first; the log counts what was dropped.",
    ).tag(config=True)

    teams = Dict(
        {},
        help="Teams of users, {'alice': 'fraud', 'bob': ['risk', 'fraud']}: what a user "
        "creates with visibility 'team' (runs by default, feature views on request) is visible "
        "to the members of the user's first team. Read from the configuration of the process "
        "that opens the catalog (the server's, for its users); a server whose users come from "
        "JupyterHub adds their Hub groups.",
    ).tag(config=True)

    roles = Dict(
        {},
        help="Roles of users or groups, {'carol': ['admin'], 'group:ml-leads': ['admin']}: "
        "'admin' may change and read what other users own (models, aliases, jobs, runs, "
        "feature views); 'auditor' may read everything.",
    ).tag(config=True)

    online_store_url = Unicode(
        "",
        help="Online feature store: empty for a SQLite file in home, sqlite:////path.db, or "
        "postgresql://user@host:5432/db to serve from several processes.",
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
            rows.append(
                {
                    "name": name,
                    "value": redact(str(value)),
                    "source": source,
                    "env": ENV_PREFIX + name.upper(),
                }
            )
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


def _candidate_files() -> list[Path]:
    """Every place a config file may be, in priority order, lowest first."""
    from jupyter_core.paths import jupyter_config_path

    folders = list(dict.fromkeys(os.path.realpath(p) for p in jupyter_config_path()))
    return [
        Path(folder) / f"{CONFIG_FILE_STEM}{suffix}"
        for folder in reversed(folders)
        for suffix in (".json", ".py")
    ]


def _config_files() -> list[Path]:
    """Config files in priority order, lowest first."""
    return [candidate for candidate in _candidate_files() if candidate.is_file()]


# Environment variables that decide where config files are looked for, besides MLINFRA_*
# (and the service tokens: in remote mode, who the workspace acts as).
_LOCATION_ENV = (
    "MLINFRA_SERVICE_TOKEN",
    "JUPYTERHUB_API_TOKEN",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_CONFIG_PATH",
    "JUPYTER_DATA_DIR",
    "JUPYTER_PLATFORM_DIRS",
    "JUPYTER_PREFER_ENV_PATH",
    "JUPYTER_NO_CONFIG",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "HOME",
    "USER",
    "LOGNAME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
)


class ConfigSources:
    """A cheap test of whether what :func:`resolve_config` reads may have changed.

    ``key()`` reads the relevant environment variables on every call (a few microseconds:
    straight from the process environment's own dict) and stats the candidate config files
    at most every ``file_check_interval`` seconds, so a public call in a loop
    (``features.get_online_features``, ``log_metric``) does not rebuild the traitlets
    configuration or walk the config path each time.
    """

    file_check_interval = 1.0

    def __init__(self) -> None:
        names = [ENV_PREFIX + name.upper() for name in MLInfra.class_trait_names(config=True)]
        self._env_names = tuple(names) + _LOCATION_ENV
        data = getattr(os.environ, "_data", None)
        encode = getattr(os.environ, "encodekey", None)
        self._raw: dict | None
        if isinstance(data, dict) and callable(encode):  # CPython: bytes (POSIX) or str keys
            self._raw, self._raw_keys = data, tuple(encode(n) for n in self._env_names)
        else:
            self._raw, self._raw_keys = None, ()
        self._files_key: tuple = ()
        self._files_checked = float("-inf")
        self._files_env: tuple | None = None

    def _env_key(self) -> tuple:
        if self._raw is not None:
            get = self._raw.get
            return tuple([get(k) for k in self._raw_keys])
        return tuple(os.environ.get(n) for n in self._env_names)

    def key(self, *, force: bool = False) -> tuple:
        env = self._env_key()
        now = time.monotonic()
        if force or env != self._files_env or now - self._files_checked >= self.file_check_interval:
            stamps = []
            for path in _candidate_files():
                try:
                    st = path.stat()
                except OSError:
                    continue
                stamps.append((str(path), st.st_mtime_ns, st.st_size))
            self._files_key, self._files_env, self._files_checked = tuple(stamps), env, now
        return env + self._files_key


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
    if isinstance(trait, Dict):
        import json

        return json.loads(raw)
    return raw


def resolve_config(
    server_config: Config | None = None, environ: Mapping[str, str] | None = None
) -> ResolvedConfig:
    """Build the effective configuration from files, the server's config and the environment."""
    env: Mapping[str, str] = os.environ if environ is None else environ
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
        if key in env and env[key] != "":
            try:
                setattr(settings, name, _coerce(trait, env[key]))
            except (TraitError, ValueError) as exc:
                raise ConfigurationError(f"invalid value in {key}: {exc}") from exc
            sources[name] = f"env {key}"
    return ResolvedConfig(settings=settings, sources=sources, files=[str(p) for p in files])
