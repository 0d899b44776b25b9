"""The one ``tag`` filter of every list (docs/api.md, "Tags").

Models carry key=value tags (a dict); jobs, runs and feature views carry labels (a list of
strings). A filter term ``NAME`` matches a label ``NAME`` or a key ``NAME`` (any value);
``NAME=VALUE`` matches that key/value pair (on labelled things: the label ``NAME=VALUE``).
Several terms: all must hold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidInput


def tag_terms(tag: str | Iterable[str] | Mapping[str, Any] | None) -> list[str]:
    """The filter's terms: one string, several (a repeated ``tag``) or a {key: value} dict
    (the models' Python API), each stripped; empty terms are ignored."""
    if tag is None:
        return []
    if isinstance(tag, Mapping):
        return [f"{str(k).strip()}={str(v).strip()}" for k, v in tag.items()]
    items = [tag] if isinstance(tag, str) else list(tag)
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput(f"tag must be a string, got {item!r}")
    return [t.strip() for t in items if t.strip()]


def labels_match(labels: Iterable[str] | None, terms: list[str]) -> bool:
    """Whether a labelled thing (job, run, feature view) holds every term."""
    have = set(labels or ())
    return all(term in have for term in terms)


def key_values_match(tags: Mapping[str, Any] | None, terms: list[str]) -> bool:
    """Whether key=value tags (a model or model version) hold every term: ``NAME`` a key
    with any value, ``NAME=VALUE`` that pair."""
    tags = tags or {}
    for term in terms:
        key, sep, value = term.partition("=")
        key = key.strip()
        if key not in tags:
            return False
        if sep and str(tags[key]) != value.strip():
            return False
    return True
