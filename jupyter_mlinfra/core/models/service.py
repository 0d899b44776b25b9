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

import difflib
import json
import os
import re
import uuid
import warnings
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable

from sqlalchemy import and_, exists, func, select

from ..catalog.schema import utcnow
from ..errors import Conflict, IntegrityError, InvalidInput, NotFound
from ..identity import check_may_change
from ..shared_writes import (CAPTURE_FILE_ENV, capture_log, captured_result, is_capturing,
                             record_write, shared_write)
from . import capture
from .capture import SessionContext, SerializedPart
from .tables import ModelAlias, ModelMetric, ModelVersionRecord, RegisteredModel
from .versions import (MetricFilter, ModelRef, ModelVersion, as_version, check_alias,
                       check_metrics, check_model_name, check_tags, check_version,
                       metric_matches)

CAPTURE_ENV = CAPTURE_FILE_ENV  # set by reproduce: registrations in the re-run are captured
ARCHIVED = "archived"
READY = "ready"


class EnvironmentMismatchWarning(UserWarning):
    """The environment loading a model differs from the one that registered it."""


class DirtyModelWarning(UserWarning):
    """The model was registered from a notebook state that may not reproduce it."""


class ModelStore:
    """The model store of one workspace (``ws.service("models")``)."""

    def __init__(self, workspace) -> None:
        self.ws = workspace

    # -- status -------------------------------------------------------------------------
    def status(self) -> dict:
        with self.ws.catalog.read_session() as s:
            models = s.scalar(select(func.count()).select_from(RegisteredModel)) or 0
            versions = s.scalar(select(func.count()).select_from(ModelVersionRecord)) or 0
        return {"models": models, "versions": versions}

    # -- register -----------------------------------------------------------------------
    def register(self, name: str, model: Any, *, featurize: Callable | None = None,
                 predict: Callable | None = None, input_example: Any = None,
                 training_data: Any = None, validation_data: Any = None,
                 data: dict[str, Any] | None = None, metrics: dict | None = None,
                 figures: Any = None, files: list | None = None, tags: dict | None = None,
                 task: str | None = None, description: str = "", alias: str | None = None,
                 protect_alias: bool = False, context: SessionContext | None = None,
                 notebook: str | None = None, run_id: str | None = None,
                 parameters: dict | None = None, require_clean: bool | None = None
                 ) -> ModelVersion:
        """Register ``model`` as the next version of ``name`` with its eight kinds of artifact.

        Everything is validated and captured first, the artifacts are written next, and the
        version becomes visible in one catalog transaction last: a failure or a crash at any
        point leaves no visible version (at most unreferenced artifact bytes).
        """
        check_model_name(name)
        if model is None:
            raise InvalidInput("nothing to register: the model is None")
        for label, fn in (("featurize", featurize), ("predict", predict)):
            if fn is not None and not callable(fn):
                raise InvalidInput(f"{label} must be a function, got {type(fn).__name__}")
        metrics = check_metrics(metrics)
        tags = check_tags(tags)
        if task:
            tags["task"] = str(task)
        if alias is not None:
            check_alias(alias)
        context = context or SessionContext()
        run_id = run_id or os.environ.get("MLINFRA_RUN_ID") or None

        # 5. dirty-state guard (before anything is written)
        reasons = self._dirty_reasons(context)
        strict = self.ws.config.settings.models_require_clean if require_clean is None \
            else require_clean
        if reasons and strict:
            raise Conflict(f"refusing to register {name}: the notebook state that produced it "
                           "may not reproduce it (models_require_clean is on): "
                           + "; ".join(reasons), details={"reasons": reasons})
        reproducing = capture_log(self.ws)  # a reproduce re-run: captured, not registered
        if reproducing is None:
            self._check_register_permission(name, alias)

        # 6. generating code (git, the notebook file, the run's parameters): mostly waiting on
        # subprocesses and files, so it runs beside the serialization of the model
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="mlinfra-models-code") as pool:
            generating = pool.submit(self._generating_code, context, notebook, run_id,
                                     parameters)
            parts: list[SerializedPart] = []
            # 1 + 2. definition and parameters
            definition = capture.describe_definition(model)
            parts.extend(capture.serialize_model(model))
            code, code_parts = generating.result()
        flavor = definition["library"] or "python"
        # 3. functions
        functions: dict[str, dict] = {}
        sources: list[str] = []
        for label, fn in (("featurize", featurize), ("predict", predict)):
            if fn is None:
                continue
            src = capture.function_source(fn, context)
            functions[label] = {k: v for k, v in src.items() if k != "source"}
            functions[label]["has_source"] = bool(src.get("source"))
            parts.append(SerializedPart(f"{label}.pkl", label, capture.serialize_function(fn),
                                        "cloudpickle"))
            sources.append(f"# {label}: {src['qualname']} (source from {src['origin']})\n"
                           + (src.get("source") or "# source unavailable\n"))
        if sources:
            parts.append(SerializedPart("functions.py", "source", "\n\n".join(sources).encode(),
                                        "python", "text/x-python", loadable=False))
        # 4. dependencies
        dependencies = capture.capture_dependencies(
            model, [fn for fn in (featurize, predict) if fn is not None],
            [input_example, training_data, validation_data, *(data or {}).values()])
        lock = dependencies.pop("lock")
        dependencies["lock_size"] = len(lock)
        parts.append(SerializedPart(
            "requirements.txt", "dependencies",
            "".join(f"{d}=={v}\n" for d, v in dependencies["packages"].items()).encode(),
            "requirements", "text/plain", loadable=False))
        parts.append(SerializedPart(
            "environment-lock.txt", "dependencies",
            (f"# python {dependencies['python']} on {dependencies['platform']}\n"
             + "".join(f"{d}=={v}\n" for d, v in lock.items())).encode(),
            "requirements", "text/plain", loadable=False))
        # 5. data
        datasets: list[dict] = []
        for role, obj in (("training", training_data), ("validation", validation_data)):
            if obj is not None:
                datasets.append(capture.fingerprint_data(role, obj))
        for role, obj in (data or {}).items():
            datasets.append(capture.fingerprint_data(str(role), obj))
        parts.extend(code_parts)      # 6. generating code, captured above
        code["functions"] = functions
        # 7. experiment artifacts
        for filename, png in capture.render_figures(figures):
            parts.append(SerializedPart(filename, "figure", png, "png", "image/png",
                                        loadable=False))
        for item in files or []:
            path = Path(item).expanduser()
            if not path.is_file():
                raise InvalidInput(f"cannot attach {item}: no such file")
            parts.append(SerializedPart(f"files/{path.name}", "file", path.read_bytes(), "file",
                                        loadable=False))
        # signature
        signature: dict = {}
        if input_example is not None:
            try:
                X = featurize(input_example) if featurize else input_example
                output = predict(model, X) if predict else model.predict(X)
            except Exception as exc:
                raise InvalidInput(f"the input example does not go through the model: "
                                   f"{type(exc).__name__}: {exc}") from exc
            signature = capture.infer_signature(input_example, output)
        # 8. tags
        tags.setdefault("owner", self.ws.user)
        names = [p.name for p in parts]
        if len(names) != len(set(names)):
            raise InvalidInput("two attached files have the same name")

        if reasons:
            warnings.warn(f"model {name} is registered with clean: false: " + "; ".join(reasons),
                          DirtyModelWarning, stacklevel=3)

        version_id = uuid.uuid4().hex
        if reproducing is not None:  # record what would be registered, only
            record_write(self.ws, "models.register", name,
                         f"register a new version of model {name}"
                         + (f" and move alias @{alias} to it" if alias else ""),
                         {"alias": alias, "metrics": metrics, "flavor": flavor},
                         payload={"name": name, "metrics": metrics, "data": datasets,
                                  "definition": definition}, log=reproducing)
            return ModelVersion(name=name, version=None, id=version_id, owner=self.ws.user,
                                status="captured", created_at=utcnow(), description=description,
                                tags=tags, flavor=flavor, definition=definition,
                                signature=signature, dependencies=dependencies, data=datasets,
                                code=code, metrics=metrics, clean=not reasons,
                                dirty_reasons=reasons, run_id=run_id, registered=False)

        # write the artifacts (content-addressed, checksummed), then commit the version
        artifacts = self._write_parts(name, version_id, parts)
        with self.ws.catalog.session() as s:
            model_row = self._lock_model(s, name, description)
            # re-checked with the model row locked (it may have been created meanwhile)
            check_may_change(self.ws.identity, model_row.owner, f"model {name}",
                             "register a version of")
            number = model_row.last_version + 1
            model_row.last_version = number
            model_row.updated_at = utcnow()
            record = ModelVersionRecord(
                id=version_id, model_name=name, version=number, owner=self.ws.user,
                status=READY, description=description, tags=tags, flavor=flavor,
                definition=definition, signature=signature, dependencies=dependencies,
                data=datasets, code=code, metrics=metrics, artifacts=artifacts,
                clean=not reasons, dirty_reasons=reasons, run_id=run_id, created_at=utcnow())
            s.add(record)
            s.flush()
            for key, value in metrics.items():
                s.add(ModelMetric(version_id=version_id, key=key, value=value))
            alias_names = []
            if alias is not None:
                self._move_alias(s, name, alias, number, protect_alias)
                alias_names.append(alias)
            s.flush()
            result = as_version(record, alias_names)
        self._record_feature_usage(result)
        return result

    def _record_feature_usage(self, version: ModelVersion) -> None:
        """Tell the feature store which views this version was trained on ("used by")."""
        from ..workspace import SERVICES

        lineages = [d["lineage"] for d in version.data if isinstance(d.get("lineage"), dict)
                    and d["lineage"].get("views")]
        if not lineages or "features" not in SERVICES:
            return
        try:
            features = self.ws.service("features")
            for lineage in lineages:
                features.record_usage(lineage, f"model:{version.name}/{version.version}")
        except Exception as exc:  # the version is registered; the back-link is best effort
            warnings.warn(f"could not record feature usage for {version.ref}: {exc}",
                          stacklevel=3)

    def _write_parts(self, name: str, version_id: str, parts: list[SerializedPart]
                     ) -> list[dict]:
        """Put every artifact; the small ones go up concurrently with the large one."""
        from concurrent.futures import ThreadPoolExecutor

        store = self.ws.artifacts

        def put(part: SerializedPart) -> dict:
            key = f"models/{name}/{version_id}/{part.name}"
            info = store.put(key, part.data, metadata={"model": name, "kind": part.kind,
                                                       "format": part.format},
                             sha256=part.sha256)
            return {"name": part.name, "kind": part.kind, "format": part.format,
                    "media_type": part.media_type, "loadable": part.loadable, "key": key,
                    "sha256": info.sha256, "size": info.size}

        if len(parts) == 1 or store.backend == "local":
            return [put(part) for part in parts]
        with ThreadPoolExecutor(max_workers=min(8, len(parts)),
                                thread_name_prefix="mlinfra-models-put") as pool:
            return list(pool.map(put, parts))  # in order; the first error propagates

    def _lock_model(self, s, name: str, description: str = "") -> RegisteredModel:
        """The model row, created if needed, locked until the transaction ends."""
        dialect = s.bind.dialect.name
        values = dict(name=name, owner=self.ws.user, description=description or "", tags={},
                      last_version=0, created_at=utcnow(), updated_at=utcnow())
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        s.execute(insert(RegisteredModel).values(**values)
                  .on_conflict_do_nothing(index_elements=["name"]))
        row = s.scalars(select(RegisteredModel).where(RegisteredModel.name == name)
                        .with_for_update()).one()
        s.refresh(row)
        return row

    def _generating_code(self, context: SessionContext, notebook: str | None,
                         run_id: str | None, parameters: dict | None
                         ) -> tuple[dict, list[SerializedPart]]:
        parts: list[SerializedPart] = []
        notebook = notebook or context.notebook_path or os.environ.get("JPY_SESSION_NAME")
        code: dict = {"cwd": os.getcwd(), "notebook_path": notebook, "notebook_sha256": None}
        folder = os.getcwd()
        if notebook:
            path = Path(notebook).expanduser()
            if not path.is_absolute():
                path = Path(os.getcwd()) / path
            if path.is_file() and path.suffix == ".ipynb":
                raw = path.read_bytes()
                parts.append(SerializedPart("notebook.ipynb", "notebook", raw, "ipynb",
                                            "application/x-ipynb+json", loadable=False))
                import hashlib

                code["notebook_sha256"] = hashlib.sha256(raw).hexdigest()
                folder = str(path.parent)
        cells, script = capture.replay_script(context)
        code["replay_origin"] = "provenance" if context.replay and context.replay.get("cells") \
            else ("session history" if context.history else None)
        if context.replay_error:
            code["replay_error"] = context.replay_error
        code["replay"] = [{"cell_id": c["cell_id"], "execution_count": c["execution_count"]}
                          for c in cells]
        if cells:
            parts.append(SerializedPart("replay.py", "code", script.encode(), "python",
                                        "text/x-python", loadable=False))
        code["git"] = capture.git_state(folder)
        code["run_id"] = run_id
        if parameters is None:
            parameters = self._run_parameters(run_id, context)
        code["parameters"] = parameters or {}
        code["variable"] = context.variable
        return code, parts

    def _run_parameters(self, run_id: str | None, context: SessionContext) -> dict:
        """The job run's parameters: from the jobs service when it knows the run, else from
        the parameters cell papermill injected (it is in the session history)."""
        if run_id:
            try:
                jobs = self.ws.service("jobs")
                run = jobs.get_run(run_id)
                params = run.get("parameters") if isinstance(run, dict) \
                    else getattr(run, "parameters", None)
                if params is not None:
                    return dict(params)
            except Exception:
                pass
        import ast

        for cell in context.history:
            if cell.lstrip().startswith("# Parameters"):
                params: dict = {}
                try:
                    for node in ast.parse(cell).body:
                        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                                and isinstance(node.targets[0], ast.Name):
                            params[node.targets[0].id] = ast.literal_eval(node.value)
                except (SyntaxError, ValueError):
                    continue
                return params
        return {}

    @staticmethod
    def _dirty_reasons(context: SessionContext) -> list[str]:
        reasons: list[str] = []
        for hazard in (context.replay or {}).get("hazards") or []:
            if isinstance(hazard, str):
                reasons.append(hazard)
            else:
                kind = hazard.get("kind") or hazard.get("type") or "hazard"
                message = hazard.get("message") or hazard.get("detail") or ""
                reasons.append(f"{kind}: {message}".strip(": "))
        return reasons

    # -- reading ------------------------------------------------------------------------
    def _aliases_by_version(self, s, name: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for row in s.scalars(select(ModelAlias).where(ModelAlias.model_name == name)):
            out.setdefault(row.version, []).append(row.alias)
        return out

    def _record(self, s, ref: ModelRef) -> ModelVersionRecord:
        if s.get(RegisteredModel, ref.name) is None:
            raise NotFound(f"no model {ref.name!r}")
        if ref.alias:
            alias = s.get(ModelAlias, (ref.name, ref.alias))
            if alias is None:
                raise NotFound(f"model {ref.name} has no alias {ref.alias!r}")
            number = alias.version
        elif ref.version:
            number = ref.version
        else:
            number = s.scalar(select(func.max(ModelVersionRecord.version)).where(
                ModelVersionRecord.model_name == ref.name, ModelVersionRecord.status == READY))
            if number is None:
                raise NotFound(f"model {ref.name} has no version that is not archived")
        record = s.scalars(select(ModelVersionRecord).where(
            ModelVersionRecord.model_name == ref.name,
            ModelVersionRecord.version == number)).one_or_none()
        if record is None:
            raise NotFound(f"model {ref.name} has no version {number}")
        return record

    def get(self, ref: str | ModelRef) -> ModelVersion:
        ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
        with self.ws.catalog.read_session() as s:
            record = self._record(s, ref)
            aliases = self._aliases_by_version(s, record.model_name).get(record.version, [])
            return as_version(record, aliases)

    def describe_model(self, name: str) -> dict:
        """A model with its versions (newest first) and aliases: the model card."""
        check_model_name(name)
        with self.ws.catalog.read_session() as s:
            row = s.get(RegisteredModel, name)
            if row is None:
                raise NotFound(f"no model {name!r}")
            by_version = self._aliases_by_version(s, name)
            versions = [as_version(r, by_version.get(r.version, [])) for r in s.scalars(
                select(ModelVersionRecord).where(ModelVersionRecord.model_name == name)
                .order_by(ModelVersionRecord.version.desc()))]
            aliases = [{"alias": a.alias, "version": a.version, "protected": a.protected,
                        "owner": a.owner, "updated_by": a.updated_by,
                        "updated_at": a.updated_at.isoformat()}
                       for a in s.scalars(select(ModelAlias).where(ModelAlias.model_name == name)
                                          .order_by(ModelAlias.alias))]
            return {"name": row.name, "owner": row.owner, "description": row.description,
                    "tags": row.tags or {}, "created_at": row.created_at.isoformat(),
                    "updated_at": row.updated_at.isoformat(),
                    "latest_version": row.last_version, "aliases": aliases,
                    "versions": versions}

    def card(self, name: str):
        from .card import ModelCard

        return ModelCard(self.describe_model(name))

    def list_models(self, query: str | None = None, *, owner: str | None = None,
                    tags: dict | None = None, metrics: list[str] | None = None,
                    include_archived: bool = False) -> list[dict]:
        """Models matching the filters, each with the version that matched best (newest)."""
        hits = self.search(query, owner=owner, tags=tags, metrics=metrics,
                           include_archived=include_archived)
        seen: dict[str, dict] = {}
        counts: dict[str, int] = {}
        for v in hits:
            counts[v.name] = counts.get(v.name, 0) + 1
            if v.name not in seen:
                seen[v.name] = v
        with self.ws.catalog.read_session() as s:
            rows = {r.name: r for r in s.scalars(select(RegisteredModel).where(
                RegisteredModel.name.in_(list(seen))))} if seen else {}
            alias_rows = s.scalars(select(ModelAlias).where(
                ModelAlias.model_name.in_(list(seen)))).all() if seen else []
        aliases: dict[str, dict] = {}
        for a in alias_rows:
            aliases.setdefault(a.model_name, {})[a.alias] = a.version
        out = []
        for name, v in seen.items():
            row = rows.get(name)
            out.append({"name": name, "owner": row.owner if row else v.owner,
                        "description": (row.description if row else "") or v.description,
                        "tags": {**(row.tags if row else {}), **v.tags},
                        "latest_version": row.last_version if row else v.version,
                        "matching_versions": counts[name], "version": v.version,
                        "metrics": v.metrics, "aliases": aliases.get(name, {}),
                        "updated_at": (row.updated_at.isoformat() if row else None),
                        "model_class": v.to_dict(full=False)["model_class"]})
        return sorted(out, key=lambda m: m["name"])

    def search(self, query: str | None = None, *, owner: str | None = None,
               tags: dict | None = None, metrics: list[str] | None = None,
               include_archived: bool = False, limit: int = 500) -> list[ModelVersion]:
        """Versions whose model name contains ``query``, owned by ``owner``, carrying every
        tag in ``tags`` (on the version or the model) and meeting every metric threshold
        (``["accuracy>=0.9", "rmse<3"]``); newest first."""
        filters = [MetricFilter.parse(m) for m in metrics or []]
        tags = check_tags(tags)
        stmt = select(ModelVersionRecord)
        if query:
            stmt = stmt.where(ModelVersionRecord.model_name.icontains(query, autoescape=True))
        if owner:
            stmt = stmt.where(ModelVersionRecord.owner == owner)
        if not include_archived:
            stmt = stmt.where(ModelVersionRecord.status == READY)
        ops = {">=": lambda c, v: c >= v, "<=": lambda c, v: c <= v, ">": lambda c, v: c > v,
               "<": lambda c, v: c < v, "==": lambda c, v: c == v}
        for flt in filters:
            stmt = stmt.where(exists().where(and_(
                ModelMetric.version_id == ModelVersionRecord.id, ModelMetric.key == flt.key,
                ops[flt.op](ModelMetric.value, flt.value))))
        stmt = stmt.order_by(ModelVersionRecord.created_at.desc(),
                             ModelVersionRecord.version.desc())
        with self.ws.catalog.read_session() as s:
            model_tags = {r.name: r.tags or {} for r in s.scalars(select(RegisteredModel))} \
                if tags else {}
            out = []
            for record in s.scalars(stmt):
                if tags:
                    merged = {**model_tags.get(record.model_name, {}), **(record.tags or {})}
                    if any(merged.get(k) != v for k, v in tags.items()):
                        continue
                if filters and not all(metric_matches(record.metrics.get(f.key), f)
                                       for f in filters):
                    continue
                out.append(record)
                if len(out) >= limit:
                    break
            aliases: dict[str, dict[int, list[str]]] = {}
            result = []
            for record in out:
                if record.model_name not in aliases:
                    aliases[record.model_name] = self._aliases_by_version(s, record.model_name)
                result.append(as_version(record,
                                         aliases[record.model_name].get(record.version, [])))
        return result

    # -- updating -----------------------------------------------------------------------
    def _check_register_permission(self, name: str, alias: str | None) -> None:
        """Before capturing anything: a new version of another user's model, or a move of
        their protected alias, needs their ownership or a role that allows it."""
        with self.ws.catalog.read_session() as s:
            model = s.get(RegisteredModel, name)
            if model is not None:
                check_may_change(self.ws.identity, model.owner, f"model {name}",
                                 "register a version of")
            row = s.get(ModelAlias, (name, alias)) if alias is not None else None
            if row is not None and row.protected:
                check_may_change(self.ws.identity, row.owner,
                                 f"alias {name}@{alias} is protected and", "move")

    def _check_model_owner(self, s, name: str, action: str) -> None:
        model = s.get(RegisteredModel, name)
        if model is not None:
            check_may_change(self.ws.identity, model.owner, f"model {name}", action)

    def _move_alias(self, s, name: str, alias: str, version: int,
                    protected: bool | None) -> ModelAlias:
        row = s.scalars(select(ModelAlias).where(ModelAlias.model_name == name,
                                                 ModelAlias.alias == alias)
                        .with_for_update()).one_or_none()
        now = utcnow()
        if row is None:
            row = ModelAlias(model_name=name, alias=alias, version=version,
                             protected=bool(protected), owner=self.ws.user,
                             updated_by=self.ws.user, updated_at=now)
            s.add(row)
            return row
        if row.protected:
            check_may_change(self.ws.identity, row.owner,
                             f"alias {name}@{alias} is protected and", "move")
        row.version = version
        row.updated_by = self.ws.user
        row.updated_at = now
        if protected is not None:
            row.protected = protected
        return row

    @shared_write("models.alias", summary="move alias {name}@{alias} to version {version}",
                  stand_in=lambda self, args, entry: captured_result(
                      entry, model=args["name"], alias=args["alias"], version=args["version"],
                      protected=args["protected"], owner=None))
    def set_alias(self, name: str, alias: str, version: int | str,
                  protected: bool | None = None) -> dict:
        """Point ``name@alias`` at ``version`` (an int, ``"3"`` or another ref of the same
        model such as ``"staging"``) in one transaction; readers see the old or the new
        target, never neither."""
        check_model_name(name)
        check_alias(alias)
        with self.ws.catalog.session() as s:
            if isinstance(version, str) and not re.fullmatch(r"\s*[+-]?[0-9]+\s*", version):
                ref = ModelRef.parse(version if ("@" in version or ":" in version)
                                     else f"{name}@{version}")
                target = self._record(s, ref)
            else:
                # a number: ModelRef refuses 0 (not "latest") and numbers past the catalog's
                target = self._record(s, ModelRef(name, version=check_version(version)))
            if target.model_name != name:
                raise InvalidInput("an alias points at a version of its own model")
            if target.status == ARCHIVED:
                raise Conflict(f"version {target.version} of {name} is archived")
            row = self._move_alias(s, name, alias, target.version, protected)
            return {"model": name, "alias": alias, "version": row.version,
                    "protected": row.protected, "owner": row.owner}

    @shared_write("models.delete_alias", summary="remove alias {name}@{alias}",
                  stand_in=lambda self, args, entry: None)
    def delete_alias(self, name: str, alias: str) -> None:
        check_model_name(name)
        check_alias(alias)
        with self.ws.catalog.session() as s:
            row = s.get(ModelAlias, (name, alias))
            if row is None:
                raise NotFound(f"model {name} has no alias {alias!r}")
            if row.protected:
                check_may_change(self.ws.identity, row.owner,
                                 f"alias {name}@{alias} is protected and", "remove")
            s.delete(row)

    @shared_write("models.archive", target="ref", summary="archive (or restore) {ref}",
                  stand_in=lambda self, args, entry: self.get(args["ref"]))
    def archive(self, ref: str, archived: bool = True) -> ModelVersion:
        """Archive a version (hidden from ``name``/latest and default searches, refused as an
        alias target) or bring it back."""
        parsed = ModelRef.parse(ref)
        with self.ws.catalog.session() as s:
            record = self._record(s, parsed)
            self._check_model_owner(s, record.model_name,
                                    "archive versions of" if archived else "unarchive versions of")
            if archived:
                pointing = s.scalars(select(ModelAlias.alias).where(
                    ModelAlias.model_name == record.model_name,
                    ModelAlias.version == record.version)).all()
                if pointing:
                    raise Conflict(f"{record.model_name}:{record.version} is the target of "
                                   f"alias(es) {', '.join(pointing)}: move them first")
            record.status = ARCHIVED if archived else READY
            s.flush()
            return as_version(record, [])

    @shared_write("models.update", summary="update the description or tags of model {name}",
                  stand_in=lambda self, args, entry: captured_result(
                      entry, name=args["name"], version=args["version"],
                      description=args["description"], tags=args["tags"] or {}))
    def update(self, name: str, *, description: str | None = None, tags: dict | None = None,
               version: int | None = None, remove_tags: list[str] | None = None) -> dict:
        """Set the description and/or tags of a model (or of one version)."""
        check_model_name(name)
        tags = check_tags(tags)
        with self.ws.catalog.session() as s:
            if version is None:
                target = s.get(RegisteredModel, name)
                if target is None:
                    raise NotFound(f"no model {name!r}")
            else:
                target = self._record(s, ModelRef(name, version=check_version(version)))
            self._check_model_owner(s, name, "change")
            if description is not None:
                target.description = description
            merged = dict(target.tags or {})
            merged.update(tags)
            for key in remove_tags or []:
                merged.pop(key, None)
            target.tags = merged
            if version is None:
                target.updated_at = utcnow()
            return {"name": name, "version": version, "description": target.description,
                    "tags": merged}

    # -- load ---------------------------------------------------------------------------
    def read_artifact(self, version: ModelVersion, artifact_name: str) -> bytes:
        """The bytes of one artifact, verified against the checksum the catalog recorded."""
        entry = version.artifact(artifact_name)
        if entry is None:
            raise NotFound(f"{version.ref} has no artifact {artifact_name!r}")
        with self._catalog_checksum(version, artifact_name):
            return self.ws.artifacts.get(entry["key"], expected_sha256=entry["sha256"])

    @contextmanager
    def _catalog_checksum(self, version: ModelVersion, artifact_name: str):
        try:
            yield
        except IntegrityError as exc:
            raise IntegrityError(f"artifact {artifact_name} of {version.ref} does not match the "
                                 f"checksum the catalog recorded: {exc.message}") from None

    def _spool(self) -> Path:
        """Where downloads are spooled before they are mapped (each file is unlinked once
        mapped; what a crash left behind is removed after a day)."""
        import time

        spool = self.ws.config.home / "cache"
        spool.mkdir(parents=True, exist_ok=True)
        for stale in spool.glob("mlinfra-*.blob"):
            try:
                if time.time() - stale.stat().st_mtime > 86400:
                    stale.unlink()
            except OSError:
                pass
        return spool

    def _load_parameters(self, version: ModelVersion, entry: dict) -> Any:
        """The fitted object, deserialized only from bytes that match the catalog's checksum.
        A joblib file is mapped copy-on-write (its arrays are paged in from the verified file
        rather than copied: a large model loads in the time of its download)."""
        if entry["format"] != "joblib":
            return capture.deserialize(entry["format"], self.read_artifact(version,
                                                                           entry["name"]))
        spool = self._spool()
        with self._catalog_checksum(version, entry["name"]), \
                self.ws.artifacts.verified_file(entry["key"], expected_sha256=entry["sha256"],
                                                dir=spool) as path:
            return capture.deserialize_file(entry["format"], path)

    def load(self, ref: str, *, warn: bool = True):
        from .loaded import LoadedModel

        version = self.get(ref)
        parameters = next((a for a in version.artifacts
                           if a["kind"] == "parameters" and a.get("loadable", True)), None)
        if parameters is None:
            raise IntegrityError(f"{version.ref} has no parameters artifact")
        model = self._load_parameters(version, parameters)
        functions = {}
        for label in ("featurize", "predict"):
            entry = version.artifact(f"{label}.pkl")
            if entry is not None:
                functions[label] = capture.deserialize("cloudpickle",
                                                       self.read_artifact(version, entry["name"]))
        diffs = capture.environment_differences(version.dependencies)
        if diffs and warn:
            warnings.warn(f"{version.ref} was registered in a different environment: "
                          + "; ".join(diffs), EnvironmentMismatchWarning, stacklevel=3)
        return LoadedModel(version=version, model=model, featurize=functions.get("featurize"),
                           predict_fn=functions.get("predict"), environment_differences=diffs)

    # -- compare ------------------------------------------------------------------------
    def compare(self, ref_a: str, ref_b: str) -> dict:
        a, b = self.get(ref_a), self.get(ref_b)

        def diff_dicts(x: dict, y: dict) -> dict:
            keys = sorted(set(x) | set(y))
            return {k: {"a": x.get(k), "b": y.get(k)} for k in keys if x.get(k) != y.get(k)}

        metrics = {}
        for key in sorted(set(a.metrics) | set(b.metrics)):
            va, vb = a.metrics.get(key), b.metrics.get(key)
            metrics[key] = {"a": va, "b": vb,
                            "delta": (vb - va) if va is not None and vb is not None else None}
        deps = diff_dicts(a.dependencies.get("packages", {}), b.dependencies.get("packages", {}))
        for key in ("python", "platform"):
            if a.dependencies.get(key) != b.dependencies.get(key):
                deps[key] = {"a": a.dependencies.get(key), "b": b.dependencies.get(key)}
        data_a = {d["role"]: d for d in a.data}
        data_b = {d["role"]: d for d in b.data}
        data = {}
        for role in sorted(set(data_a) | set(data_b)):
            da, db = data_a.get(role), data_b.get(role)
            fields = {}
            for key in ("kind", "uri", "rows", "schema", "content_sha256", "lineage"):
                va, vb = (da or {}).get(key), (db or {}).get(key)
                if va != vb:
                    fields[key] = {"a": va, "b": vb}
            data[role] = {"same": not fields, "differences": fields}
        script_a = self._text_artifact(a, "replay.py")
        script_b = self._text_artifact(b, "replay.py")
        code_diff = "".join(difflib.unified_diff(
            script_a.splitlines(keepends=True), script_b.splitlines(keepends=True),
            fromfile=f"{a.ref}/replay.py", tofile=f"{b.ref}/replay.py"))
        functions_diff = "".join(difflib.unified_diff(
            self._text_artifact(a, "functions.py").splitlines(keepends=True),
            self._text_artifact(b, "functions.py").splitlines(keepends=True),
            fromfile=f"{a.ref}/functions.py", tofile=f"{b.ref}/functions.py"))
        return {
            "a": a.ref, "b": b.ref,
            "model_class": {"a": a.to_dict(False)["model_class"],
                            "b": b.to_dict(False)["model_class"]},
            "hyperparameters": diff_dicts(a.definition.get("hyperparameters", {}),
                                          b.definition.get("hyperparameters", {})),
            "metrics": metrics, "dependencies": deps, "data": data,
            "code": {"diff": code_diff, "functions_diff": functions_diff,
                     "notebook": {"a": a.code.get("notebook_path"),
                                  "b": b.code.get("notebook_path"),
                                  "same_snapshot": a.code.get("notebook_sha256")
                                  == b.code.get("notebook_sha256")},
                     "git": {"a": a.code.get("git"), "b": b.code.get("git")},
                     "parameters": diff_dicts(a.code.get("parameters") or {},
                                              b.code.get("parameters") or {})},
        }

    def _text_artifact(self, version: ModelVersion, name: str) -> str:
        if version.artifact(name) is None:
            return ""
        return self.read_artifact(version, name).decode("utf-8", "replace")

    # -- reproduce ----------------------------------------------------------------------
    def reproduce(self, ref: str, *, tolerance: float | None = None,
                  absolute_tolerance: float = 0.0, timeout: float | None = 600,
                  kernel_name: str | None = None, via_jobs: bool | None = None) -> dict:
        """Re-run the version's notebook snapshot (or its replay script) with the recorded
        parameters in a fresh kernel, register nothing, and compare every recorded metric.

        Runs as a job run (``submit_content`` + ``run_and_wait`` of the jobs service, in the
        notebook's folder) when the jobs capability is there and ``via_jobs`` is not False;
        otherwise directly through the shared notebook runner (``executed_by`` says which).
        """
        from .reproduce import reproduce_version

        tol = self.ws.config.settings.models_reproduce_tolerance if tolerance is None \
            else float(tolerance)
        return reproduce_version(self, self.get(ref), tolerance=tol,
                                 absolute_tolerance=absolute_tolerance, timeout=timeout,
                                 kernel_name=kernel_name, via_jobs=via_jobs)

    # -- deploy -------------------------------------------------------------------------
    def batch_predict(self, ref: str, input: str, output: str, *,
                      output_column: str = "prediction", keep_columns: bool = True,
                      as_job: bool | None = None, wait: bool = True,
                      timeout: float | None = None) -> dict:
        """Predict over a parquet or CSV file (local path or s3:// URL) and write the result
        (format from the output's extension; written whole or not at all).

        ``as_job`` (default: when the jobs capability is installed) runs it as a job run in a
        fresh kernel, executed by the scheduler serving the catalog or, when none takes it,
        in this process; ``as_job=False`` runs it here. ``executed_by`` says which."""
        from .deploy import batch_predict, batch_predict_job
        from .reproduce import _jobs

        if as_job is None and is_capturing(self.ws):
            as_job = False  # a reproduce re-run submits no job run: predict here
        jobs = _jobs(self) if as_job is not False else None
        if as_job and jobs is None:
            raise InvalidInput("the jobs capability is not available: use as_job=False")
        if jobs is not None:
            return batch_predict_job(self, jobs, ref, input, output,
                                     output_column=output_column, keep_columns=keep_columns,
                                     wait=wait, timeout=timeout)
        return batch_predict(self, ref, input, output, output_column=output_column,
                             keep_columns=keep_columns)

    def dockerfile(self, ref: str, folder: str) -> dict:
        from .deploy import write_dockerfile

        return write_dockerfile(self, ref, folder)


__all__ = ["ModelStore", "EnvironmentMismatchWarning", "DirtyModelWarning", "CAPTURE_ENV"]
