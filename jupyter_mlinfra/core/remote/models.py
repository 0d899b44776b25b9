"""The model store over HTTP: the public methods of ``ModelStore``.

Loading downloads a version's artifacts once into a local cache keyed by their checksum
(``<home>/cache/remote-artifacts/<sha256>``; streamed to disk, verified against the checksum
the service's catalog recorded) and deserializes them here, as in direct mode.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import IntegrityError, InvalidInput, NotFound
from ..models.versions import ModelRef, ModelVersion
from .client import ServiceClient, items, walk

_VERSION_FIELDS = {f.name for f in fields(ModelVersion)}


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def version_from_dict(data: dict) -> ModelVersion:
    values = {k: v for k, v in data.items() if k in _VERSION_FIELDS}
    created = values.get("created_at")
    if isinstance(created, str):
        values["created_at"] = datetime.fromisoformat(created.replace("Z", "+00:00"))
    for name in ("name", "version", "id", "owner", "status", "created_at"):
        values.setdefault(name, None)
    return ModelVersion(**values)


class RemoteArtifacts:
    """What ``models.loading`` reads from an artifact store (``get``, ``verified_file``),
    served by the service's artifact endpoint and cached locally by checksum."""

    def __init__(self, client: ServiceClient, version: ModelVersion, cache: Path) -> None:
        self.client, self.version, self.cache = client, version, cache

    def _fetch(self, key: str, expected_sha256: str) -> Path:
        target = self.cache / expected_sha256
        if target.is_file():
            return target
        entry = next((a for a in self.version.artifacts if a.get("key") == key), None)
        if entry is None:
            raise NotFound(f"{self.version.ref} has no artifact stored as {key!r}")
        self.cache.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.cache, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.client.download(
                    f"models/{_q(self.version.name)}/versions/{self.version.version}/"
                    f"artifacts/{quote(entry['name'], safe='/')}"
                ):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != expected_sha256:
                raise IntegrityError(
                    f"artifact {entry['name']} of {self.version.ref} does not "
                    f"match the checksum the catalog recorded"
                )
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def get(self, key: str, expected_sha256: str | None = None) -> bytes:
        return self._fetch(key, expected_sha256 or "").read_bytes()

    @contextmanager
    def verified_file(self, key: str, expected_sha256: str, dir: Any = None) -> Iterator[str]:
        yield str(self._fetch(key, expected_sha256))


class _LoadingWorkspace:
    """The two things ``models.loading`` asks a workspace for: artifacts and the home."""

    def __init__(self, ws, artifacts: RemoteArtifacts) -> None:
        self.artifacts = artifacts
        self.config = ws.config


class RemoteModels:
    remote = True

    def __init__(self, ws, client: ServiceClient) -> None:
        self.ws = ws
        self.client = client

    @property
    def cache(self) -> Path:
        return self.ws.config.home / "cache" / "remote-artifacts"

    def status(self) -> dict:
        return self.client.get("health")["capabilities"]["models"]

    # -- reading ---------------------------------------------------------------------------
    def get(self, ref: str | ModelRef) -> ModelVersion:
        parsed = ref if isinstance(ref, ModelRef) else ModelRef.parse(str(ref))
        version = parsed.version
        if version is None:
            model = self.client.get(f"models/{_q(parsed.name)}")
            if parsed.alias:
                target = next(
                    (
                        a["version"]
                        for a in model.get("aliases") or ()
                        if a["alias"] == parsed.alias
                    ),
                    None,
                )
                if target is None:
                    raise NotFound(f"model {parsed.name!r} has no alias {parsed.alias!r}")
                version = target
            else:
                live = [v for v in _versions(model) if v.get("status") != "archived"]
                if not live:
                    raise NotFound(f"model {parsed.name!r} has no version that is not archived")
                version = max(v["version"] for v in live)
        return version_from_dict(self.client.get(f"models/{_q(parsed.name)}/versions/{version}"))

    def describe_model(self, name: str) -> dict:
        model = self.client.get(f"models/{_q(name)}")
        model["versions"] = [version_from_dict(v) for v in _versions(model)]
        return model

    def card(self, name: str):
        from ..models.card import ModelCard

        return ModelCard(self.describe_model(name))

    def _filters(self, owner, tags, metrics, include_archived) -> dict:
        return {
            "owner": owner,
            "tag": [f"{k}={v}" for k, v in (tags or {}).items()] or None,
            "metric": list(metrics or []) or None,
            "archived": "true" if include_archived else None,
        }

    def list_models(
        self,
        query: str | None = None,
        *,
        owner: str | None = None,
        tags: dict | None = None,
        metrics: list[str] | None = None,
        include_archived: bool = False,
    ) -> list[dict]:
        return walk(
            self.client,
            "models",
            "models",
            {"q": query, **self._filters(owner, tags, metrics, include_archived)},
        )

    def search(
        self,
        query: str | None = None,
        *,
        owner: str | None = None,
        tags: dict | None = None,
        metrics: list[str] | None = None,
        include_archived: bool = False,
        **_: Any,
    ) -> list[ModelVersion]:
        found = walk(
            self.client,
            "model-versions",
            "versions",
            {"q": query, **self._filters(owner, tags, metrics, include_archived)},
        )
        return [version_from_dict(v) for v in found]

    # one page of a list: the service's envelope (items, total, limit, offset, next_cursor)
    def list_models_page(
        self,
        query: str | None = None,
        *,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
        owner: str | None = None,
        tags: dict | None = None,
        metrics: list[str] | None = None,
        include_archived: bool = False,
    ) -> dict:
        return self._page(
            "models", query, limit, offset, cursor, owner, tags, metrics, include_archived
        )

    def search_page(
        self,
        query: str | None = None,
        *,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
        owner: str | None = None,
        tags: dict | None = None,
        metrics: list[str] | None = None,
        include_archived: bool = False,
    ) -> dict:
        return self._page(
            "model-versions", query, limit, offset, cursor, owner, tags, metrics, include_archived
        )

    def _page(
        self, path, query, limit, offset, cursor, owner, tags, metrics, include_archived
    ) -> dict:
        return self.client.get(
            path,
            q=query,
            limit=limit,
            offset=offset,
            cursor=cursor,
            **self._filters(owner, tags, metrics, include_archived),
        )

    def versions_page(
        self,
        name: str,
        *,
        include_archived: bool = True,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
    ) -> dict:
        return self.client.get(
            f"models/{_q(name)}/versions",
            archived=None if include_archived else "false",
            limit=limit,
            offset=offset,
            cursor=cursor,
        )

    def read_artifact(self, version: ModelVersion, artifact_name: str) -> bytes:
        entry = version.artifact(artifact_name)
        if entry is None:
            raise NotFound(f"{version.ref} has no artifact {artifact_name!r}")
        return RemoteArtifacts(self.client, version, self.cache).get(entry["key"], entry["sha256"])

    def load(self, ref: str, *, warn: bool = True):
        from ..models.loading import load_version

        version = self.get(ref)
        shim = _LoadingWorkspace(self.ws, RemoteArtifacts(self.client, version, self.cache))
        return load_version(shim, version, warn=warn)

    def compare(self, ref_a: str, ref_b: str) -> dict:
        a, b = ModelRef.parse(ref_a), ModelRef.parse(ref_b)
        if a.name != b.name:
            raise InvalidInput("the mlinfra service compares two versions of one model")

        def spelled(r: ModelRef) -> str:
            if r.alias:
                return f"@{r.alias}"
            return str(r.version if r.version is not None else self.get(r).version)

        return self.client.get(f"models/{_q(a.name)}/compare", a=spelled(a), b=spelled(b))

    # -- registering: captured here, stored by the service ---------------------------------
    def register(
        self, name: str, model: Any, *, require_clean: bool | None = None, **options: Any
    ) -> ModelVersion:
        """Capture the version in this process (as in direct mode: the model, functions,
        dependencies, data fingerprints, generating code...) and send it to the service,
        which stores the bytes as artifacts and the version in its catalog."""
        import warnings

        from ..models.service import DirtyModelWarning

        captured = self.capture(name, model, require_clean=require_clean, **options)
        if captured.dirty_reasons:
            warnings.warn(
                f"model {name} is registered with clean: false: "
                + "; ".join(captured.dirty_reasons),
                DirtyModelWarning,
                stacklevel=3,
            )
        return self.store(captured)

    def capture(self, name: str, model: Any, *, require_clean: bool | None = None, **options: Any):
        from ..models import pipeline

        strict = (
            self.ws.config.settings.models_require_clean if require_clean is None else require_clean
        )
        registration = pipeline.prepare_registration(name, model, require_clean=strict, **options)
        return pipeline.capture_version(registration, job_parameters=self._job_parameters)

    def _job_parameters(self, run_id: str) -> dict | None:
        try:
            return dict(self.ws.service("jobs").get_run(run_id).get("parameters") or {})
        except Exception:
            return None

    def store(self, captured) -> ModelVersion:
        """Send a captured version (``CapturedVersion``) to the service to be stored."""
        import json

        from .client import ServiceError, _streamed_form

        meta = captured.check().manifest()
        files = [(p.name, (p.name, p.data, "application/octet-stream")) for p in captured.parts]
        body = _streamed_form({"version": json.dumps(meta, default=str)}, files)
        limit = self.status().get("upload_max_bytes") or 0  # 0 (or an older service): none
        if limit and body.len > limit:
            raise InvalidInput(self._too_large(body.len, limit))
        try:
            answer = self.client.call(
                "POST",
                f"models/{_q(captured.name)}/captured-versions",
                data=body,
                headers={"Content-Type": body.content_type},
            )
        except ServiceError as exc:
            if exc.http_status != 413:
                raise
            raise InvalidInput(str(exc)) from None  # the service's message names its limit
        return version_from_dict(answer)

    def _too_large(self, size: int, limit: int) -> str:
        return (
            f"the model's upload has {size} bytes; the mlinfra service at "
            f"{self.client.describe()} takes model uploads of at most {limit} bytes (its "
            f"setting c.MLInfra.model_upload_max_bytes): nothing was sent"
        )

    # -- changing --------------------------------------------------------------------------
    def set_alias(
        self, name: str, alias: str, version: int | str, protected: bool | None = None
    ) -> dict:
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        if not isinstance(version, int) or isinstance(version, bool):
            target = self.get(f"{name}@{version}").version  # another alias of the model
            if target is None:
                raise NotFound(f"model {name!r} has no version {version!r}")
            version = target
        body: dict[str, Any] = {"version": version}
        if protected is not None:
            body["protected"] = protected
        return self.client.call("PUT", f"models/{_q(name)}/aliases/{_q(alias)}", json=body)

    def delete_alias(self, name: str, alias: str) -> None:
        self.client.call("DELETE", f"models/{_q(name)}/aliases/{_q(alias)}")

    def archive(self, ref: str, archived: bool = True) -> ModelVersion:
        version = self.get(ref)
        return version_from_dict(
            self.client.call(
                "PATCH",
                f"models/{_q(version.name)}/versions/{version.version}",
                json={"archived": bool(archived)},
            )
        )

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: dict | None = None,
        version: int | None = None,
        remove_tags: list[str] | None = None,
    ) -> dict:
        body = {
            k: v
            for k, v in {
                "description": description,
                "tags": tags,
                "remove_tags": remove_tags,
            }.items()
            if v is not None
        }
        if version is not None:
            if remove_tags:
                raise InvalidInput("remove_tags applies to a model, not to one version")
            return self.client.call(
                "PATCH", f"models/{_q(name)}/versions/{int(version)}", json=body
            )
        return self.client.call("PATCH", f"models/{_q(name)}", json=body)

    def reproduce(self, ref: str, *, tolerance: float | None = None, **options: Any) -> dict:
        """The service re-runs the version as a job run of its own scheduler, with its
        kernels and timeout: only ``tolerance`` travels (other options are refused, not
        dropped)."""
        given = sorted(
            k
            for k, v in options.items()
            if v is not None and not (k == "absolute_tolerance" and v == 0.0)
        )
        if given:
            raise InvalidInput(
                f"reproduce through the mlinfra service at {self.client.url} takes only "
                f"tolerance: the service runs it in its own kernels with its own timeout "
                f"({', '.join(given)} cannot be chosen by the caller)"
            )
        version = self.get(ref)
        body = {} if tolerance is None else {"tolerance": float(tolerance)}
        return self.client.post(
            f"models/{_q(version.name)}/versions/{version.version}/reproduce", body
        )

    # -- deploying: in this process, over the model loaded (and cached) here ---------------
    def batch_predict(
        self,
        ref: str,
        input: str,
        output: str,
        *,
        output_column: str = "prediction",
        keep_columns: bool = True,
        as_job: bool | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """As ``ModelStore.batch_predict``, in this process: the version is loaded here
        through the local artifact cache (the service never unpickles a caller's model) and
        the input and output are this process's files (or s3:// URLs with this process's
        credentials). ``as_job=True`` is refused: a job run's kernel is the service's, which
        cannot read this process's files."""
        from ..models.deploy import batch_predict

        if as_job:
            raise InvalidInput(
                f"in remote mode batch prediction runs in this process (the mlinfra service "
                f"at {self.client.url} does not load callers' models, and its job kernels "
                f"cannot read this process's files): leave as_job unset or False"
            )
        result = batch_predict(
            self, ref, input, output, output_column=output_column, keep_columns=keep_columns
        )
        result["executed_by"] = "in-process (remote mode: the model loaded here)"
        return result

    def dockerfile(self, ref: str, folder: str) -> dict:
        """A Dockerfile and pinned requirements.txt written here from the version's metadata
        and its environment lock fetched from the service; the image serves the model from
        the service (``MLINFRA_SERVICE_URL`` set, ``MLINFRA_SERVICE_TOKEN`` given at run
        time)."""
        from ..models.deploy import write_dockerfile

        return write_dockerfile(self, ref, folder, service_url=self.client.url)


def _versions(model: dict) -> list[dict]:
    versions = model.get("versions")
    if isinstance(versions, dict):  # a paged envelope
        return items(versions, "versions")
    return list(versions or [])
