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


# -- the same filter answered by the database (JSON operators; no rows loaded to check) --------
def labels_clause(column: Any, terms: list[str], backend: str) -> Any:
    """A SQL condition: the JSON list of labels in ``column`` (JSON, or text holding JSON)
    holds every term (``labels_match`` in SQL). SQLite: ``json_each``; PostgreSQL: ``@>``
    on the value as jsonb."""
    from sqlalchemy import Text, and_, cast, exists, func, literal, select, true

    if not terms:
        return true()
    if backend == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return cast(cast(column, Text()), JSONB).contains(list(terms))
    conditions = []
    for term in terms:
        each = func.json_each(column).table_valued("value")
        conditions.append(exists(select(literal(1)).select_from(each).where(each.c.value == term)))
    return and_(*conditions)


def key_values_clause(columns: list[Any], terms: list[str], backend: str) -> Any:
    """A SQL condition: the key=value tags merged from ``columns`` (JSON objects, a later
    one winning on a shared key: a model's tags, then its version's) hold every term -
    ``NAME`` a key, ``NAME=VALUE`` that pair (``key_values_match`` in SQL; values are text)."""
    from sqlalchemy import Text, and_, cast, false, func, literal, not_, or_, true

    if not terms:
        return true()
    conditions = []
    for term in terms:
        key, sep, value = term.partition("=")
        key, value = key.strip(), value.strip()
        has: list[Any] = []
        equals: list[Any] = []
        for column in columns:
            if backend == "postgresql":
                from sqlalchemy.dialects.postgresql import JSONB

                doc = cast(cast(column, Text()), JSONB)
                has.append(func.coalesce(doc.has_key(key), false()))
                equals.append(doc.op("->>")(literal(key)) == value)
            else:
                path = literal('$."' + key.replace('"', '""') + '"')
                has.append(func.json_type(column, path).is_not(None))
                equals.append(func.json_extract(column, path) == value)
        if not sep:
            conditions.append(or_(*has))
            continue
        # the value of the last column holding the key
        conditions.append(
            or_(*[and_(equals[i], *[not_(h) for h in has[i + 1 :]]) for i in range(len(columns))])
        )
    return and_(*conditions)


def any_element_contains(column: Any, word: str, backend: str, key: str | None = None) -> Any:
    """A SQL condition: an element of the JSON list in ``column`` (its ``key`` member when
    the elements are objects) contains ``word``, case-insensitively."""
    from sqlalchemy import Text, cast, exists, func, literal, select

    text: Any
    pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if backend == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        each = func.jsonb_array_elements(cast(cast(column, Text()), JSONB)).table_valued("value")
        text = (
            each.c.value.op("->>")(literal(key))
            if key
            else func.jsonb_build_array(each.c.value).op("->>")(literal(0))
        )
    else:
        each = func.json_each(column).table_valued("value")
        text = func.json_extract(each.c.value, "$." + key) if key else each.c.value
    return exists(
        select(literal(1)).select_from(each).where(func.lower(text).like(pattern, escape="\\"))
    )
