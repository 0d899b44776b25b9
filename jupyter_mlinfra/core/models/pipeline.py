"""The registration pipeline: a request is checked, captured into one :class:`CapturedVersion`
in the user's process, and stored.

Two halves that can run in different processes:

- **capture** (:func:`prepare_registration` then :func:`capture_version`, or :func:`capture`
  for both): plain Python in the user's process; it reads the model, its functions, the
  notebook and the environment, and touches neither the catalog nor the artifact store;
- **store** (:func:`store_version`): writes the captured artifacts to the artifact store
  (content-addressed, checksummed) and commits the version to the catalog in one
  transaction. It never deserializes a captured artifact.

A ``CapturedVersion`` travels as JSON plus bytes: :meth:`CapturedVersion.manifest` and
:meth:`CapturedVersion.from_manifest` (which re-checks every field and every checksum).
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, InvalidInput
from ..shared_writes import CaptureLog, record_write
from ..times import utcnow
from . import capture as steps
from .capture import SerializedPart, SessionContext
from .exporters import EXPORTERS
from .modes import CAPTURED, REGISTER_WRITE
from .registry import ModelRegistry
from .versions import ModelVersion, check_alias, check_metrics, check_model_name, check_tags


class DirtyModelWarning(UserWarning):
    """The model was registered from a notebook state that may not reproduce it."""


@dataclass
class Registration:
    """A checked request to register ``model`` as the next version of ``name``."""

    name: str
    model: Any
    featurize: Callable | None = None
    predict: Callable | None = None
    input_example: Any = None
    training_data: Any = None
    validation_data: Any = None
    data: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    figures: Any = None
    files: list | None = None
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    alias: str | None = None
    protect_alias: bool = False
    context: SessionContext = field(default_factory=SessionContext)
    notebook: str | None = None
    run_id: str | None = None
    parameters: dict | None = None
    dirty_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReceivedFile:
    """An artifact's bytes received into a local file, hashed as they arrived (a streamed
    upload to the central service): stored from the file, never read whole into memory."""

    path: str
    sha256: str
    size: int


@dataclass
class CapturedVersion:
    """Everything a new version keeps, captured and not yet stored: the artifacts (bytes
    with their kinds and checksums) and the catalog fields."""

    name: str
    parts: list[SerializedPart]
    definition: dict
    signature: dict
    dependencies: dict
    data: list[dict]
    code: dict
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    alias: str | None = None
    protect_alias: bool = False
    dirty_reasons: list[str] = field(default_factory=list)
    run_id: str | None = None

    FIELDS = (
        "name",
        "definition",
        "signature",
        "dependencies",
        "data",
        "code",
        "metrics",
        "tags",
        "description",
        "alias",
        "protect_alias",
        "dirty_reasons",
        "run_id",
    )

    @property
    def flavor(self) -> str:
        return self.definition.get("library") or "python"

    @property
    def clean(self) -> bool:
        return not self.dirty_reasons

    def check(self) -> CapturedVersion:
        """Refuse what the catalog must not hold (InvalidInput); returns self."""
        check_model_name(self.name)
        self.metrics = check_metrics(self.metrics)
        self.tags = check_tags(self.tags)
        if self.alias is not None:
            check_alias(self.alias)
        names = [p.name for p in self.parts]
        if len(names) != len(set(names)):
            raise InvalidInput("two attached files have the same name")
        for part_name in names:
            segments = part_name.split("/")
            if (
                not part_name
                or part_name.startswith("/")
                or "" in segments
                or any(s in (".", "..") for s in segments)
            ):
                raise InvalidInput(f"invalid artifact name {part_name!r}")
        if not any(p.kind == "parameters" and p.loadable for p in self.parts):
            raise InvalidInput("a captured version needs its parameters artifact")
        return self

    def manifest(self) -> dict:
        """The version as JSON, its artifacts described by name, kind, format, media type,
        SHA-256 and size (the bytes travel beside it)."""
        out: dict = {key: getattr(self, key) for key in self.FIELDS}
        out["parts"] = [part.describe() for part in self.parts]
        return out

    @classmethod
    def from_manifest(
        cls, manifest: Mapping[str, Any], blobs: Mapping[str, bytes | ReceivedFile]
    ) -> CapturedVersion:
        """The version a :meth:`manifest` describes, with each artifact's bytes from ``blobs``
        (by name: the bytes, or a :class:`ReceivedFile` holding them): unknown fields,
        missing bytes and bytes that do not match their SHA-256 are InvalidInput."""
        if not isinstance(manifest, Mapping):
            raise InvalidInput("a captured version is a JSON object")
        unknown = sorted(set(manifest) - set(cls.FIELDS) - {"parts"})
        if unknown:
            raise InvalidInput(f"unknown field(s) in the captured version: {', '.join(unknown)}")
        parts = []
        for entry in manifest.get("parts") or []:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise InvalidInput("each part of a captured version needs a name")
            data = blobs.get(entry["name"])
            if data is None:
                raise InvalidInput(f"no bytes for artifact {entry['name']!r}")
            received = data if isinstance(data, ReceivedFile) else None
            part = SerializedPart(
                entry["name"],
                str(entry.get("kind") or ""),
                bytes(data) if not isinstance(data, ReceivedFile) else b"",
                str(entry.get("format") or ""),
                str(entry.get("media_type") or "application/octet-stream"),
                bool(entry.get("loadable", False)),
                sha256=received.sha256 if received is not None else None,
                file=received.path if received is not None else None,
            )
            if entry.get("sha256") is not None and part.digest() != entry["sha256"]:
                raise InvalidInput(f"artifact {entry['name']!r} does not match its SHA-256")
            parts.append(part)
        dict_fields = ("definition", "signature", "dependencies", "code", "metrics", "tags")
        for key in dict_fields:
            if not isinstance(manifest.get(key) or {}, Mapping):
                raise InvalidInput(f"{key} must be an object")
        for key in ("data", "dirty_reasons"):
            if not isinstance(manifest.get(key) or [], list):
                raise InvalidInput(f"{key} must be a list")
        captured = cls(
            name=str(manifest.get("name") or ""),
            parts=parts,
            **{k: dict(manifest.get(k) or {}) for k in dict_fields},
            data=list(manifest.get("data") or []),
            description=str(manifest.get("description") or ""),
            alias=manifest.get("alias"),
            protect_alias=manifest.get("protect_alias") is True,
            dirty_reasons=[str(r) for r in manifest.get("dirty_reasons") or []],
            run_id=manifest.get("run_id") or None,
        )
        return captured.check()


# -- capture (the user's process) ------------------------------------------------------------
def prepare_registration(
    name: str,
    model: Any,
    *,
    metrics: dict | None = None,
    tags: dict | None = None,
    task: str | None = None,
    alias: str | None = None,
    context: SessionContext | None = None,
    run_id: str | None = None,
    require_clean: bool = False,
    **options: Any,
) -> Registration:
    """Step 1: check the request (InvalidInput) and the notebook state (Conflict when
    ``require_clean`` and provenance reports hazards). Nothing is captured or written."""
    check_model_name(name)
    if model is None:
        raise InvalidInput("nothing to register: the model is None")
    for label in ("featurize", "predict"):
        fn = options.get(label)
        if fn is not None and not callable(fn):
            raise InvalidInput(f"{label} must be a function, got {type(fn).__name__}")
    metrics = check_metrics(metrics)
    tags = check_tags(tags)
    if task:
        tags["task"] = str(task)
    if alias is not None:
        check_alias(alias)
    context = context or SessionContext()
    reasons = context.dirty_reasons()
    if reasons and require_clean:
        raise Conflict(
            f"refusing to register {name}: the notebook state that produced it "
            "may not reproduce it (models_require_clean is on): " + "; ".join(reasons),
            details={"reasons": reasons},
        )
    return Registration(
        name=name,
        model=model,
        metrics=metrics,
        tags=tags,
        alias=alias,
        context=context,
        run_id=run_id or os.environ.get("MLINFRA_RUN_ID") or None,
        dirty_reasons=reasons,
        **options,
    )


def capture_version(
    reg: Registration, *, job_parameters: Callable[[str], dict | None] | None = None
) -> CapturedVersion:
    """Steps 2-9: capture the eight kinds of artifact of a checked registration.
    ``job_parameters(run_id)`` looks up the parameters of the job run registering it."""
    model = reg.model
    # 6. generating code (git, the notebook file, the run's parameters): mostly waiting on
    # subprocesses and files, so it runs beside the serialization of the model
    with ThreadPoolExecutor(1, thread_name_prefix="mlinfra-models-code") as pool:
        generating = pool.submit(
            steps.generating_code,
            reg.context,
            reg.notebook,
            reg.run_id,
            reg.parameters,
            job_parameters,
        )
        # 1 + 2. definition and parameters (the pickle, and the native format when known)
        definition = steps.describe_definition(model)
        parts = steps.serialize_model(model)
        native = EXPORTERS.export(model)
        if native is not None:
            parts.append(native)
        code, code_parts = generating.result()
    # 3. functions
    functions, function_parts = steps.capture_functions(reg.featurize, reg.predict, reg.context)
    parts += function_parts
    # 4. dependencies
    dependencies = steps.capture_dependencies(
        model,
        [fn for fn in (reg.featurize, reg.predict) if fn is not None],
        [reg.input_example, reg.training_data, reg.validation_data, *(reg.data or {}).values()],
    )
    parts += steps.dependency_parts(dependencies)
    # 5. data
    datasets = steps.fingerprint_datasets(reg.training_data, reg.validation_data, reg.data)
    parts += code_parts  # 6. generating code, captured above
    code["functions"] = functions
    # 7. experiment artifacts
    parts += steps.experiment_parts(reg.figures, reg.files)
    # 8. signature
    signature = steps.signature_of(model, reg.input_example, reg.featurize, reg.predict)
    names = [p.name for p in parts]
    if len(names) != len(set(names)):
        raise InvalidInput("two attached files have the same name")
    return CapturedVersion(
        name=reg.name,
        parts=parts,
        definition=definition,
        signature=signature,
        dependencies=dependencies,
        data=datasets,
        code=code,
        metrics=reg.metrics,
        tags=reg.tags,
        description=reg.description,
        alias=reg.alias,
        protect_alias=reg.protect_alias,
        dirty_reasons=reg.dirty_reasons,
        run_id=reg.run_id,
    )


def capture(
    name: str,
    model: Any,
    *,
    require_clean: bool = False,
    job_parameters: Callable[[str], dict | None] | None = None,
    **options: Any,
) -> CapturedVersion:
    """:func:`prepare_registration` then :func:`capture_version` (the arguments of
    ``ModelStore.register``)."""
    return capture_version(
        prepare_registration(name, model, require_clean=require_clean, **options),
        job_parameters=job_parameters,
    )


# -- store (where the catalog and the artifact store are) -------------------------------------
def write_parts(artifacts, name: str, version_id: str, parts: list[SerializedPart]) -> list[dict]:
    """Put every artifact (the small ones go up concurrently with the large one); their
    catalog entries in order."""

    def put(part: SerializedPart) -> dict:
        key = f"models/{name}/{version_id}/{part.name}"
        metadata = {"model": name, "kind": part.kind, "format": part.format}
        if part.file is not None:  # streamed from disk (hashed again on the way)
            with open(part.file, "rb") as source:
                info = artifacts.put(key, source, metadata=metadata)
            if info.sha256 != part.sha256:
                raise InvalidInput(f"artifact {part.name!r} changed on disk before it was stored")
        else:
            info = artifacts.put(key, part.data, metadata=metadata, sha256=part.sha256)
        return {
            "name": part.name,
            "kind": part.kind,
            "format": part.format,
            "media_type": part.media_type,
            "loadable": part.loadable,
            "key": key,
            "sha256": info.sha256,
            "size": info.size,
        }

    if len(parts) == 1 or artifacts.backend == "local":
        return [put(part) for part in parts]
    with ThreadPoolExecutor(
        max_workers=min(8, len(parts)), thread_name_prefix="mlinfra-models-put"
    ) as pool:
        return list(pool.map(put, parts))  # in order; the first error propagates


def store_version(workspace, captured: CapturedVersion) -> ModelVersion:
    """Write the artifacts, then make the version visible in one catalog transaction (owned
    by the workspace's user, who must be allowed to): a failure or a crash at any point
    leaves no visible version (at most unreferenced artifact bytes)."""
    captured.check()
    tags = dict(captured.tags)
    tags.setdefault("owner", workspace.user)
    version_id = uuid.uuid4().hex
    artifacts = write_parts(workspace.artifacts, captured.name, version_id, captured.parts)
    version = ModelRegistry(workspace).add_version(
        version_id,
        captured.name,
        description=captured.description,
        tags=tags,
        flavor=captured.flavor,
        definition=captured.definition,
        signature=captured.signature,
        dependencies=captured.dependencies,
        data=captured.data,
        code=captured.code,
        metrics=captured.metrics,
        artifacts=artifacts,
        dirty_reasons=captured.dirty_reasons,
        run_id=captured.run_id,
        alias=captured.alias,
        protect_alias=captured.protect_alias,
    )
    record_feature_usage(workspace, version)
    return version


def record_feature_usage(workspace, version: ModelVersion) -> None:
    """Tell the feature store which views this version was trained on ("used by")."""
    lineages = [
        d["lineage"]
        for d in version.data
        if isinstance(d.get("lineage"), dict) and d["lineage"].get("views")
    ]
    if not lineages:
        return
    try:
        features = workspace.service("features")
        for lineage in lineages:
            features.record_usage(lineage, f"model:{version.name}/{version.version}")
    except Exception as exc:  # the version is registered; the back-link is best effort
        warnings.warn(f"could not record feature usage for {version.ref}: {exc}", stacklevel=4)


def record_captured(workspace, captured: CapturedVersion, log: CaptureLog) -> ModelVersion:
    """Inside a reproduce re-run: record what would be registered (``reproduce`` compares
    its metrics and data) and return a stand-in that says it was not registered."""
    name, alias = captured.name, captured.alias
    record_write(
        workspace,
        REGISTER_WRITE,
        name,
        f"register a new version of model {name}"
        + (f" and move alias @{alias} to it" if alias else ""),
        {"alias": alias, "metrics": captured.metrics, "flavor": captured.flavor},
        payload={
            "name": name,
            "metrics": captured.metrics,
            "data": captured.data,
            "definition": captured.definition,
        },
        log=log,
    )
    return ModelVersion(
        name=name,
        version=None,
        id=uuid.uuid4().hex,
        owner=workspace.user,
        status=CAPTURED,
        created_at=utcnow(),
        description=captured.description,
        tags={**captured.tags, "owner": captured.tags.get("owner", workspace.user)},
        flavor=captured.flavor,
        definition=captured.definition,
        signature=captured.signature,
        dependencies=captured.dependencies,
        data=captured.data,
        code=captured.code,
        metrics=captured.metrics,
        clean=captured.clean,
        dirty_reasons=captured.dirty_reasons,
        run_id=captured.run_id,
        registered=False,
    )


__all__ = [
    "CapturedVersion",
    "Registration",
    "DirtyModelWarning",
    "prepare_registration",
    "capture_version",
    "capture",
    "store_version",
    "record_captured",
    "write_parts",
    "record_feature_usage",
]
