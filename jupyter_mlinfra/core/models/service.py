"""The model store: register, version, alias, search, load, compare, reproduce, deploy.

Trust model
-----------
Loading a model deserializes Python pickles (joblib / cloudpickle), which can run arbitrary
code. The store therefore only ever deserializes bytes that (1) are listed as an artifact of
the version in the catalog, with the SHA-256 recorded at registration, (2) are read back
through the artifact store, which verifies every byte against that checksum, and (3) were
written by ``register``. It never unpickles a user-supplied path, URL or upload: REST
``predict`` takes JSON records, ``batch_predict`` parquet/CSV, ``serve`` only a catalog
reference. Anyone who can write to the catalog and the artifact root can register a model and
so run code wherever it is loaded: grant write access to those stores as you would grant
commit access to the code that serves models.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput
from ..shared_writes import capture_log, captured_result, is_capturing, shared_write
from . import loading, pipeline
from .capture import SessionContext
from .compare import compare_versions
from .loaded_cache import LoadedVersions
from .loading import EnvironmentMismatchWarning
from .pipeline import CapturedVersion, DirtyModelWarning
from .registry import ModelRegistry
from .versions import ModelRef, ModelVersion


class ModelStore:
    """The model store of one workspace (``ws.service("models")``): a facade over the
    registry (``registry``), the registration pipeline (``pipeline``, ``capture/``,
    ``exporters``), loading (``loading``), comparison (``compare``), ``reproduce`` and
    ``deploy``."""

    def __init__(self, workspace) -> None:
        self.ws = workspace
        self._loaded = LoadedVersions(workspace.config.catalog_url)

    def close(self) -> None:
        self._loaded.close()

    @property
    def registry(self) -> ModelRegistry:
        """The catalog side, for this store's workspace (a per-user copy gets its own)."""
        return ModelRegistry(self.ws)

    def status(self) -> dict:
        # upload_max_bytes: what POST /models/{name}/captured-versions takes (remote clients
        # check a model's size against it before sending; 0: no limit)
        return {
            **self.registry.status(),
            "upload_max_bytes": self.ws.config.settings.model_upload_max_bytes,
        }

    # -- register: capture, then store ------------------------------------------------------
    def register(
        self,
        name: str,
        model: Any,
        *,
        featurize: Callable | None = None,
        predict: Callable | None = None,
        input_example: Any = None,
        training_data: Any = None,
        validation_data: Any = None,
        data: dict[str, Any] | None = None,
        metrics: dict | None = None,
        figures: Any = None,
        files: list | None = None,
        tags: dict | None = None,
        task: str | None = None,
        description: str = "",
        alias: str | None = None,
        protect_alias: bool = False,
        context: SessionContext | None = None,
        notebook: str | None = None,
        run_id: str | None = None,
        parameters: dict | None = None,
        require_clean: bool | None = None,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name`` with its eight kinds of artifact:
        :meth:`capture` then :meth:`store`.

        Everything is validated and captured first, the artifacts are written next, and the
        version becomes visible in one catalog transaction last: a failure or a crash at any
        point leaves no visible version (at most unreferenced artifact bytes).
        """
        # audited (a refusal at capture too) unless a reproduce re-run only records it
        scope = (
            _audited(self.ws, name, alias)
            if capture_log(self.ws) is None
            else contextlib.nullcontext()
        )
        with scope:
            captured = self.capture(
                name,
                model,
                featurize=featurize,
                predict=predict,
                input_example=input_example,
                training_data=training_data,
                validation_data=validation_data,
                data=data,
                metrics=metrics,
                figures=figures,
                files=files,
                tags=tags,
                task=task,
                description=description,
                alias=alias,
                protect_alias=protect_alias,
                context=context,
                notebook=notebook,
                run_id=run_id,
                parameters=parameters,
                require_clean=require_clean,
            )
            if captured.dirty_reasons:
                warnings.warn(
                    f"model {name} is registered with clean: false: "
                    + "; ".join(captured.dirty_reasons),
                    DirtyModelWarning,
                    stacklevel=3,
                )
            return self.store(captured)

    def capture(
        self, name: str, model: Any, *, require_clean: bool | None = None, **options: Any
    ) -> CapturedVersion:
        """Check the request and capture the version in this process (the arguments of
        :meth:`register`); nothing is written. The owner's permission is checked before the
        capture starts (again when it is stored)."""
        strict = (
            self.ws.config.settings.models_require_clean if require_clean is None else require_clean
        )
        registration = pipeline.prepare_registration(name, model, require_clean=strict, **options)
        if capture_log(self.ws) is None:  # a reproduce re-run registers nothing
            self.registry.check_register_permission(name, registration.alias)
        return pipeline.capture_version(registration, job_parameters=self._job_parameters)

    def store(self, captured: CapturedVersion) -> ModelVersion:
        """Store a captured version (its artifacts, then the catalog); inside a reproduce
        re-run, record it and return a stand-in (``registered=False``)."""
        log = capture_log(self.ws)
        if log is not None:
            return pipeline.record_captured(self.ws, captured.check(), log)
        with _audited(self.ws, captured.name, captured.alias):  # its row commits with it
            return pipeline.store_version(self.ws, captured)

    def _job_parameters(self, run_id: str) -> dict | None:
        """The parameters of a job run of this catalog (None when unknown)."""
        try:
            run = self.ws.service("jobs").get_run(run_id)
        except Exception:
            return None
        params = (
            run.get("parameters") if isinstance(run, dict) else getattr(run, "parameters", None)
        )
        return dict(params) if params is not None else None

    # -- the registry ----------------------------------------------------------------------
    def get(self, ref: str | ModelRef) -> ModelVersion:
        return self.registry.get(ref)

    def describe_model(self, name: str) -> dict:
        """A model with its versions (newest first) and aliases: the model card."""
        return self.registry.describe_model(name)

    def card(self, name: str):
        from .card import ModelCard

        return ModelCard(self.describe_model(name))

    def list_models(
        self,
        query: str | None = None,
        *,
        owner: str | None = None,
        tags: dict | list[str] | None = None,
        metrics: list[str] | None = None,
        include_archived: bool = False,
    ) -> list[dict]:
        """Models matching the filters, each with the version that matched best (newest)."""
        return self.registry.list_models(
            query, owner=owner, tags=tags, metrics=metrics, include_archived=include_archived
        )

    def list_models_page(
        self,
        query: str | None = None,
        *,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
        **filters,
    ) -> dict:
        """One page of ``list_models`` (by name)."""
        return self.registry.list_models_page(
            query, limit=limit, offset=offset, cursor=cursor, **filters
        )

    def search_page(
        self,
        query: str | None = None,
        *,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
        **filters,
    ) -> dict:
        """One page of ``search`` (newest first), the versions as summaries."""
        return self.registry.search_page(
            query, limit=limit, offset=offset, cursor=cursor, **filters
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
        """One page of a model's versions (newest version first), as summaries."""
        return self.registry.versions_page(
            name, include_archived=include_archived, limit=limit, offset=offset, cursor=cursor
        )

    def search(
        self,
        query: str | None = None,
        *,
        owner: str | None = None,
        tags: dict | list[str] | None = None,
        metrics: list[str] | None = None,
        include_archived: bool = False,
        limit: int | None = None,
    ) -> list[ModelVersion]:
        """Versions whose model name contains ``query``, owned by ``owner``, carrying every
        tag in ``tags`` (on the version or the model) and meeting every metric threshold
        (``["accuracy>=0.9", "rmse<3"]``); newest first."""
        return self.registry.search(
            query,
            owner=owner,
            tags=tags,
            metrics=metrics,
            include_archived=include_archived,
            limit=limit,
        )

    @shared_write(
        "models.alias",
        summary="move alias {name}@{alias} to version {version}",
        stand_in=lambda self, args, entry: captured_result(
            entry,
            model=args["name"],
            alias=args["alias"],
            version=args["version"],
            protected=args["protected"],
            owner=None,
        ),
    )
    def set_alias(
        self, name: str, alias: str, version: int | str, protected: bool | None = None
    ) -> dict:
        """Point ``name@alias`` at ``version`` (an int, ``"3"`` or another ref of the same
        model such as ``"staging"``) in one transaction; readers see the old or the new
        target, never neither."""
        return self.registry.set_alias(name, alias, version, protected)

    @shared_write(
        "models.delete_alias",
        summary="remove alias {name}@{alias}",
        stand_in=lambda self, args, entry: None,
    )
    def delete_alias(self, name: str, alias: str) -> None:
        self.registry.delete_alias(name, alias)

    @shared_write(
        "models.archive",
        target="ref",
        summary="archive (or restore) {ref}",
        stand_in=lambda self, args, entry: self.get(args["ref"]),
    )
    def archive(self, ref: str, archived: bool = True) -> ModelVersion:
        """Archive a version (hidden from ``name``/latest and default searches, refused as an
        alias target) or bring it back."""
        return self.registry.archive(ref, archived)

    @shared_write(
        "models.update",
        summary="update the description or tags of model {name}",
        stand_in=lambda self, args, entry: captured_result(
            entry,
            name=args["name"],
            version=args["version"],
            description=args["description"],
            tags=args["tags"] or {},
        ),
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
        """Set the description and/or tags of a model (or of one version)."""
        return self.registry.update(
            name, description=description, tags=tags, version=version, remove_tags=remove_tags
        )

    # -- load and compare ------------------------------------------------------------------
    def read_artifact(self, version: ModelVersion, artifact_name: str) -> bytes:
        """The bytes of one artifact, verified against the checksum the catalog recorded."""
        return loading.read_artifact(self.ws, version, artifact_name)

    def load(self, ref: str, *, warn: bool = True):
        """The version ``ref`` names, loaded; a version loaded before in this process comes
        from memory (see :class:`~.loaded_cache.LoadedVersions`)."""
        return self._loaded.load(self, ref, warn=warn)

    def compare(self, ref_a: str, ref_b: str) -> dict:
        a, b = self.get(ref_a), self.get(ref_b)
        return compare_versions(
            a,
            b,
            replay=(
                loading.read_text(self.ws, a, "replay.py"),
                loading.read_text(self.ws, b, "replay.py"),
            ),
            functions=(
                loading.read_text(self.ws, a, "functions.py"),
                loading.read_text(self.ws, b, "functions.py"),
            ),
        )

    # -- reproduce ----------------------------------------------------------------------
    def reproduce(
        self,
        ref: str,
        *,
        tolerance: float | None = None,
        absolute_tolerance: float = 0.0,
        timeout: float | None = 600,
        kernel_name: str | None = None,
        via_jobs: bool | None = None,
    ) -> dict:
        """Re-run the version's notebook snapshot (or its replay script) with the recorded
        parameters in a fresh kernel, register nothing, and compare every recorded metric.

        Runs as a job run (``submit_content`` + ``run_and_wait`` of the jobs service, in the
        notebook's folder) when the jobs capability is there and ``via_jobs`` is not False;
        otherwise directly through the shared notebook runner (``executed_by`` says which).
        """
        from .reproduce import reproduce_version

        tol = (
            self.ws.config.settings.models_reproduce_tolerance
            if tolerance is None
            else float(tolerance)
        )
        return reproduce_version(
            self,
            self.get(ref),
            tolerance=tol,
            absolute_tolerance=absolute_tolerance,
            timeout=timeout,
            kernel_name=kernel_name,
            via_jobs=via_jobs,
        )

    # -- deploy -------------------------------------------------------------------------
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
        """Predict over a parquet or CSV file (local path or s3:// URL) and write the result
        (format from the output's extension; written whole or not at all).

        ``as_job`` (default: when the jobs capability is installed) runs it as a job run in a
        fresh kernel, executed by the scheduler serving the catalog or, when none takes it,
        in this process; ``as_job=False`` runs it here. ``executed_by`` says which."""
        from .deploy import batch_predict, batch_predict_job
        from .reproduce import jobs_service

        if as_job is None and is_capturing(self.ws):
            as_job = False  # a reproduce re-run submits no job run: predict here
        jobs = jobs_service(self.ws) if as_job is not False else None
        if as_job and jobs is None:
            raise InvalidInput("the jobs capability is not available: use as_job=False")
        if jobs is not None:
            return batch_predict_job(
                self,
                jobs,
                ref,
                input,
                output,
                output_column=output_column,
                keep_columns=keep_columns,
                wait=wait,
                timeout=timeout,
            )
        return batch_predict(
            self, ref, input, output, output_column=output_column, keep_columns=keep_columns
        )

    def dockerfile(self, ref: str, folder: str) -> dict:
        from .deploy import write_dockerfile

        return write_dockerfile(self, ref, folder)


__all__ = ["ModelStore", "CapturedVersion", "EnvironmentMismatchWarning", "DirtyModelWarning"]


def _audited(ws, name: str, alias: str | None):
    """The audit scope of a registration (see core/audit.py): its line commits with the
    version, a refusal is recorded as denied."""
    from ..audit import action

    return action(
        ws,
        "models.register",
        name,
        f"register a new version of model {name}"
        + (f" and move alias @{alias} to it" if alias else ""),
    )
