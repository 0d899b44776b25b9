"""The model store from plain Python and notebooks.

    from jupyter_mlinfra import models
    v = models.register("churn", clf, featurize=featurize, input_example=X_test.head(),
                        training_data=train_df, metrics={"auc": 0.91}, alias="staging")
    m = models.load("churn@staging")          # or "churn:3", or "churn" (latest)
    m.predict(df)                             # the stored featurize, then predict
    models.set_alias("churn", "production", 3)
    models.compare("churn:2", "churn:3")
    models.reproduce("churn:3")

Inside a kernel, ``register`` also collects what only the kernel knows: the session's cell
history (the source of functions defined in cells, the replay order), the notebook path, and
provenance's replay order and hazards for the model's variable when provenance is recording.
Loading deserializes only the catalog's own checksummed artifacts (see
``jupyter_mlinfra.core.models.service`` for the trust model).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from .core.models.capture import SessionContext
from .core.models.service import DirtyModelWarning, EnvironmentMismatchWarning
from .core.workspace import get_workspace


def _store():
    return get_workspace().service("models")


def _variable_name(model: Any, shell) -> str | None:
    for name, value in shell.user_ns.items():
        if value is model and not name.startswith("_"):
            return name
    return None


def session_context(model: Any = None, variable: str | None = None) -> SessionContext:
    """What the running IPython kernel knows about how ``model`` was made (empty outside one)."""
    ipython_module = sys.modules.get("IPython")
    shell = None
    if ipython_module is not None:
        try:
            shell = ipython_module.get_ipython()
        except Exception:
            shell = None
    if shell is None:
        return SessionContext()
    raw = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    history = [src for src in (raw or shell.user_ns.get("In", []))[1:] if isinstance(src, str)]
    if variable is None and model is not None:
        variable = _variable_name(model, shell)
    notebook = os.environ.get("JPY_SESSION_NAME") or shell.user_ns.get("__session__") or None
    context = SessionContext(history=history, notebook_path=notebook, variable=variable)
    from .kernel.models_provenance import attach_provenance

    attach_provenance(context, shell)
    return context


def register(
    name: str,
    model: Any,
    *,
    featurize: Callable | None = None,
    predict: Callable | None = None,
    input_example: Any = None,
    training_data: Any = None,
    validation_data: Any = None,
    data: dict | None = None,
    metrics: dict | None = None,
    figures: Any = None,
    files: list | None = None,
    tags: dict | None = None,
    task: str | None = None,
    description: str = "",
    alias: str | None = None,
    protect_alias: bool = False,
    notebook: str | None = None,
    variable: str | None = None,
    require_clean: bool | None = None,
):
    """Register ``model`` as the next version of ``name``; returns the ModelVersion.

    - ``featurize(df) -> X`` and ``predict(model, X) -> y`` are stored as callables and source;
    - ``input_example``: a few input rows, to infer the input/output signature;
    - ``training_data`` / ``validation_data`` / ``data={role: obj}``: DataFrames, arrays or
      paths/URIs, fingerprinted (training frames from the feature store carry their lineage);
    - ``metrics``: numbers; ``figures``: matplotlib figures (default: the open ones);
      ``files``: paths to attach; ``tags``, ``task``, ``description``;
    - ``alias``: move this alias to the new version (``protect_alias`` to protect it);
    - ``require_clean``: refuse when provenance shows stale or hidden state (default: the
      ``models_require_clean`` setting).
    """
    return _store().register(
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
        context=session_context(model, variable),
        notebook=notebook,
        require_clean=require_clean,
    )


def is_reproducing() -> bool:
    """True inside a ``reproduce`` re-run, where every write to shared state (``register``,
    aliases, feature definitions, materialize, push, jobs) is captured and not applied:
    guard cells that should not run again there, such as a call to ``reproduce`` itself."""
    from .core.shared_writes import is_capturing

    return is_capturing(get_workspace())


def load(ref: str, *, warn: bool = True):
    """``"name@alias"``, ``"name:3"`` or ``"name"`` (latest) -> a LoadedModel."""
    return _store().load(ref, warn=warn)


def get(ref: str):
    return _store().get(ref)


def show(name: str):
    """The model card (rich display in a notebook)."""
    return _store().card(name)


def list_models(query: str | None = None, **filters) -> list[dict]:
    return _store().list_models(query, **filters)


def list_models_page(query: str | None = None, **filters) -> dict:
    """One page of models (the envelope; ``limit``, ``offset``, ``cursor``), by name."""
    return _store().list_models_page(query, **filters)


def search_page(query: str | None = None, **filters) -> dict:
    """One page of matching versions, newest first, as summary dicts (the envelope)."""
    return _store().search_page(query, **filters)


def versions_page(name: str, **options) -> dict:
    """One page of a model's versions, newest first, as summary dicts (the envelope)."""
    return _store().versions_page(name, **options)


def search(
    query: str | None = None,
    *,
    owner: str | None = None,
    tags: dict | None = None,
    metrics: list[str] | None = None,
    include_archived: bool = False,
):
    return _store().search(
        query, owner=owner, tags=tags, metrics=metrics, include_archived=include_archived
    )


def set_alias(name: str, alias: str, version: int | str, protected: bool | None = None) -> dict:
    return _store().set_alias(name, alias, version, protected=protected)


def delete_alias(name: str, alias: str) -> None:
    _store().delete_alias(name, alias)


def archive(ref: str, archived: bool = True):
    return _store().archive(ref, archived)


def update(name: str, **fields) -> dict:
    return _store().update(name, **fields)


def compare(ref_a: str, ref_b: str) -> dict:
    return _store().compare(ref_a, ref_b)


def reproduce(ref: str, **options) -> dict:
    return _store().reproduce(ref, **options)


def batch_predict(ref: str, input: str, output: str, **options) -> dict:
    return _store().batch_predict(ref, input, output, **options)


def dockerfile(ref: str, folder: str) -> dict:
    return _store().dockerfile(ref, folder)


__all__ = [
    "register",
    "is_reproducing",
    "load",
    "get",
    "show",
    "list_models",
    "search",
    "list_models_page",
    "search_page",
    "versions_page",
    "set_alias",
    "delete_alias",
    "archive",
    "update",
    "compare",
    "reproduce",
    "batch_predict",
    "dockerfile",
    "session_context",
    "DirtyModelWarning",
    "EnvironmentMismatchWarning",
]
