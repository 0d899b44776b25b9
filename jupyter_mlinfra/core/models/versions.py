"""Value objects of the model store: a version as users see it, references, metric filters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import InvalidInput, quote
from ..times import to_iso_z

MAX_VERSION = 2**63 - 1  # the catalog's BIGINT
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
TAG_KEY_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
METRIC_RE = re.compile(r"^\s*([A-Za-z0-9_.:/-]+)\s*(>=|<=|==|=|>|<)\s*(-?[0-9.eE+-]+)\s*$")


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(
            f"invalid model name {name!r}: start with a letter or digit, then "
            "letters, digits, '_', '.' or '-' (no '@' or ':')"
        )
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS_RE.match(alias):
        raise InvalidInput(f"invalid alias {alias!r}: a letter then letters, digits, '_' or '-'")
    if alias == "latest":
        raise InvalidInput("'latest' is reserved: it always means the newest version")
    return alias


def check_version(version: Any) -> int:
    """A version number as every door accepts it: an integer (or its digits) from 1 to 2**63-1.
    0 is not "latest" and a number past the catalog's integers is not a server error."""
    number = None
    if isinstance(version, int) and not isinstance(version, bool):
        number = version
    elif isinstance(version, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", version):
        number = int(version)
    if number is None or not 1 <= number <= MAX_VERSION:
        raise InvalidInput(
            f"invalid version {quote(version)}: versions are integers from 1 to {MAX_VERSION}"
        )
    return number


def check_tags(tags: dict | None) -> dict[str, str]:
    tags = dict(tags or {})
    for key, value in tags.items():
        if not isinstance(key, str) or not TAG_KEY_RE.match(key):
            raise InvalidInput(f"invalid tag key {key!r}")
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidInput(f"tag {key!r} must have a text value, got {type(value).__name__}")
        tags[key] = str(value)
    return tags


def check_metrics(metrics: dict | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if not isinstance(key, str) or not TAG_KEY_RE.match(key):
            raise InvalidInput(f"invalid metric name {key!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {key!r} must be a number, got {value!r}") from None
        if number != number:
            raise InvalidInput(f"metric {key!r} is NaN")
        out[key] = number
    return out


def parse_key_values(items: list[str] | None, what: str) -> dict[str, str]:
    """``["k=v", ...]`` from the magics and the CLI."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{what} must look like key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class ModelRef:
    """``name``, ``name:3``, ``name@alias`` (``name@latest`` is ``name``)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        if self.version is not None:  # never 0 for "latest", never past the catalog's range
            object.__setattr__(self, "version", check_version(self.version))

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("a model reference looks like name, name:3 or name@alias")
        text = text.strip()
        if "@" in text:
            name, alias = text.split("@", 1)
            check_model_name(name)
            if alias == "latest":
                return cls(name)
            return cls(name, alias=check_alias(alias))
        if ":" in text:
            name, version = text.rsplit(":", 1)
            check_model_name(name)
            return cls(name, version=check_version(version))
        return cls(check_model_name(text))

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        if self.version:
            return f"{self.name}:{self.version}"
        return self.name


@dataclass(frozen=True)
class MetricFilter:
    key: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> MetricFilter:
        match = METRIC_RE.match(text or "")
        if not match:
            raise InvalidInput(f"invalid metric filter {text!r}: use e.g. accuracy>=0.9")
        key, op, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"invalid number in metric filter {text!r}") from None
        return cls(key, "==" if op == "=" else op, number)


@dataclass
class ModelVersion:
    """One registered version, as every door shows it."""

    name: str
    version: int | None
    id: str
    owner: str
    status: str
    created_at: datetime | None
    description: str = ""
    tags: dict = field(default_factory=dict)
    flavor: str = ""
    definition: dict = field(default_factory=dict)
    signature: dict = field(default_factory=dict)
    dependencies: dict = field(default_factory=dict)
    data: list = field(default_factory=list)
    code: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    artifacts: list = field(default_factory=list)
    clean: bool = True
    dirty_reasons: list = field(default_factory=list)
    run_id: str | None = None
    aliases: list = field(default_factory=list)
    registered: bool = True  # False for the capture-only registrations of `reproduce`

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def artifact(self, name: str) -> dict | None:
        return next((a for a in self.artifacts if a["name"] == name), None)

    def to_dict(self, full: bool = True) -> dict:
        body = {
            "name": self.name,
            "version": self.version,
            "id": self.id,
            "owner": self.owner,
            "status": self.status,
            "created_at": to_iso_z(self.created_at),
            "description": self.description,
            "tags": self.tags,
            "flavor": self.flavor,
            "metrics": self.metrics,
            "clean": self.clean,
            "dirty_reasons": self.dirty_reasons,
            "run_id": self.run_id,
            "aliases": self.aliases,
            "model_class": f"{self.definition.get('module', '')}.{self.definition.get('class', '')}",
        }
        if full:
            deps = dict(self.dependencies)
            body.update(
                definition=self.definition,
                signature=self.signature,
                dependencies=deps,
                data=self.data,
                code=self.code,
                artifacts=self.artifacts,
            )
        return body

    def _repr_html_(self) -> str:
        from .card import version_card_html

        return version_card_html(self)


def metric_matches(value: float | None, flt: MetricFilter) -> bool:
    if value is None:
        return False
    return {
        ">=": value >= flt.value,
        "<=": value <= flt.value,
        ">": value > flt.value,
        "<": value < flt.value,
        "==": value == flt.value,
    }[flt.op]


def as_version(record: Any, aliases: list[str] | None = None) -> ModelVersion:
    return ModelVersion(
        name=record.model_name,
        version=record.version,
        id=record.id,
        owner=record.owner,
        status=record.status,
        created_at=record.created_at,
        description=record.description,
        tags=dict(record.tags or {}),
        flavor=record.flavor,
        definition=record.definition or {},
        signature=record.signature or {},
        dependencies=record.dependencies or {},
        data=list(record.data or []),
        code=record.code or {},
        metrics=dict(record.metrics or {}),
        artifacts=list(record.artifacts or []),
        clean=record.clean,
        dirty_reasons=list(record.dirty_reasons or []),
        run_id=record.run_id,
        aliases=sorted(aliases or []),
    )
