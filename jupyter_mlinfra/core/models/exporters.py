"""Native model formats: a registry of exporters, extensible by entry point.

Beside the pickle the loader reads, a version keeps the model in its library's own format
when an exporter knows it (``model.xgb.ubj`` for xgboost, ``model.lgb.txt`` for lightgbm...),
so the library's own tools can load it without Python pickles. The built-in exporters cover
xgboost, lightgbm, torch, catboost and keras; a third party adds one from its package, as
papermill's engines are added::

    # pyproject.toml of the third party
    [project.entry-points."jupyter_mlinfra.model_exporters"]
    onnx = "my_package.exporters:OnnxExporter"

    class OnnxExporter(ModelExporter):
        def accepts(self, model): return type(model).__module__.startswith("mylib")
        def export(self, model): return SerializedPart("model.onnx", "native", ..., "onnx",
                                                       loadable=False)

The last exporter registered that accepts a model writes its native part (entry points are
registered after the built-ins, so they win over them). An exporter that fails never fails a
registration: the native part is a companion, the version is kept without it.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .capture.definition import library_of
from .capture.serializers import SerializedPart

ENTRY_POINT_GROUP = "jupyter_mlinfra.model_exporters"


class ModelExporter:
    """Writes models of some libraries in their native format (override both methods)."""

    libraries: tuple[str, ...] = ()  # top-level modules of the model classes handled

    def accepts(self, model: Any) -> bool:
        return library_of(model) in self.libraries

    def export(self, model: Any) -> SerializedPart | None:  # pragma: no cover - interface
        raise NotImplementedError


def _saved_file(save: Callable[[str], Any], filename: str) -> bytes:
    """The bytes ``save(path)`` writes to a file named ``filename`` in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, filename)
        save(path)
        return Path(path).read_bytes()


class XGBoostExporter(ModelExporter):
    libraries = ("xgboost",)

    def export(self, model: Any) -> SerializedPart | None:
        if not hasattr(model, "save_model"):
            return None
        return SerializedPart(
            "model.xgb.ubj",
            "native",
            _saved_file(model.save_model, "model.ubj"),
            "xgboost-ubj",
            loadable=False,
        )


class LightGBMExporter(ModelExporter):
    libraries = ("lightgbm",)

    def export(self, model: Any) -> SerializedPart | None:
        booster = getattr(model, "booster_", model)
        if not hasattr(booster, "model_to_string"):
            return None
        return SerializedPart(
            "model.lgb.txt",
            "native",
            booster.model_to_string().encode(),
            "lightgbm-text",
            "text/plain",
            loadable=False,
        )


class TorchExporter(ModelExporter):
    libraries = ("torch",)

    def export(self, model: Any) -> SerializedPart | None:
        if not hasattr(model, "state_dict"):
            return None
        import torch

        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        return SerializedPart(
            "model.state_dict.pt", "native", buffer.getvalue(), "torch-state-dict", loadable=False
        )


class CatBoostExporter(ModelExporter):
    libraries = ("catboost",)

    def export(self, model: Any) -> SerializedPart | None:
        if not hasattr(model, "save_model"):
            return None
        return SerializedPart(
            "model.cbm",
            "native",
            _saved_file(model.save_model, "model.cbm"),
            "catboost-cbm",
            loadable=False,
        )


class KerasExporter(ModelExporter):
    libraries = ("keras", "tensorflow", "tf_keras")

    def export(self, model: Any) -> SerializedPart | None:
        if not hasattr(model, "save"):
            return None
        return SerializedPart(
            "model.keras", "native", _saved_file(model.save, "model.keras"), "keras", loadable=False
        )


class ModelExporters:
    """The exporters by name; the entry points of ``jupyter_mlinfra.model_exporters`` are
    registered on first use (and again by :meth:`register_entry_points`)."""

    def __init__(self) -> None:
        self._exporters: dict[str, ModelExporter] = {}
        self._entry_points_registered = False

    def register(self, name: str, exporter: ModelExporter | type[ModelExporter]) -> None:
        """Add (or replace) the exporter called ``name``; a class is instantiated."""
        instance = exporter() if isinstance(exporter, type) else exporter
        self._exporters.pop(name, None)  # a replacement counts as the newest
        self._exporters[name] = instance

    def unregister(self, name: str) -> None:
        self._exporters.pop(name, None)

    def register_entry_points(self) -> None:
        """Register every exporter the installed distributions declare."""
        self._entry_points_registered = True
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            self.register(entry_point.name, entry_point.load())

    def names(self) -> list[str]:
        self._ensure_entry_points()
        return list(self._exporters)

    def get(self, name: str) -> ModelExporter:
        self._ensure_entry_points()
        return self._exporters[name]

    def exporter_for(self, model: Any) -> ModelExporter | None:
        """The newest registered exporter that accepts ``model``."""
        self._ensure_entry_points()
        for exporter in reversed(list(self._exporters.values())):
            try:
                if exporter.accepts(model):
                    return exporter
            except Exception:  # a broken third-party accepts(): not this one
                continue
        return None

    def export(self, model: Any) -> SerializedPart | None:
        """The model's native part, or None (no exporter for it, or its export failed)."""
        exporter = self.exporter_for(model)
        if exporter is None:
            return None
        try:
            return exporter.export(model)
        except Exception:  # the native export is a companion: never fail a registration
            return None

    def _ensure_entry_points(self) -> None:
        if not self._entry_points_registered:
            self.register_entry_points()


EXPORTERS = ModelExporters()
for _name, _exporter in (
    ("xgboost", XGBoostExporter),
    ("lightgbm", LightGBMExporter),
    ("torch", TorchExporter),
    ("catboost", CatBoostExporter),
    ("keras", KerasExporter),
):
    EXPORTERS.register(_name, _exporter)

__all__ = ["ENTRY_POINT_GROUP", "EXPORTERS", "ModelExporter", "ModelExporters"]
