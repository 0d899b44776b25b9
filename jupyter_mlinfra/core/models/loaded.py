"""A model loaded from the store: ``.predict(df)`` applies the stored featurize then predict."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from . import capture
from .versions import ModelVersion


@dataclass
class LoadedModel:
    version: ModelVersion
    model: Any
    featurize: Callable | None = None
    predict_fn: Callable | None = None
    environment_differences: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def ref(self) -> str:
        return self.version.ref

    def transform(self, data: Any) -> Any:
        """The model's input for ``data``: the stored featurize function applied to it."""
        with self._explained(data):
            return self.featurize(data) if self.featurize is not None else data

    def predict(self, data: Any) -> Any:
        features = self.transform(data)
        with self._explained(data):
            if self.predict_fn is None:
                return self.model.predict(features)
            try:
                arity = len(inspect.signature(self.predict_fn).parameters)
            except (TypeError, ValueError):
                arity = 2
            return (
                self.predict_fn(self.model, features) if arity >= 2 else self.predict_fn(features)
            )

    @contextmanager
    def _explained(self, data: Any):
        """A failure on an input lacking columns of the registered example says so."""
        try:
            yield
        except InvalidInput:
            raise
        except Exception as exc:
            missing = capture.missing_columns(self.version.signature, data)
            if missing:
                raise InvalidInput(
                    f"{self.ref} failed on this input, which lacks column(s) "
                    f"{', '.join(missing)} of the registered input example: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            raise

    def predict_records(self, records: list[dict]) -> list:
        """JSON records in, JSON-ready predictions out (what the HTTP endpoints use)."""
        import pandas as pd

        frame = pd.DataFrame.from_records(records)
        return to_jsonable(self.predict(frame))

    def __repr__(self) -> str:
        return (
            f"<LoadedModel {self.ref} {self.version.definition.get('class', '?')} "
            f"aliases={self.version.aliases}>"
        )

    def _repr_html_(self) -> str:
        return self.version._repr_html_()


def to_jsonable(result: Any) -> list:
    try:
        import numpy as np
        import pandas as pd
    except ImportError:  # pragma: no cover
        return list(result)
    if isinstance(result, pd.DataFrame):
        return result.to_dict(orient="records")
    if isinstance(result, pd.Series):
        return result.tolist()
    if isinstance(result, np.ndarray):
        return result.tolist()
    return list(result)
