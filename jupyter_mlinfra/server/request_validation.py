"""Every request checked against the OpenAPI description before its handler runs.

The description served at ``/mlinfra/api/openapi.json`` is the contract: the base handler
finds the request's operation in it, then checks the path parameters, the query parameters
and the JSON body with ``jsonschema``. A mismatch is an ``InvalidInput`` (400) naming the
field, so handlers only see input of the declared shapes and the description and the
handlers cannot disagree.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from ..core.errors import InvalidInput, quote

# Query parameters any jupyter_server request may carry (the token in a URL, the XSRF form
# field), besides the operation's own.
SERVER_QUERY_PARAMETERS = frozenset({"token", "_xsrf"})
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def query_bool(text: str | None, name: str, default: bool | None = None) -> bool | None:
    """A boolean query parameter, parsed the one way every operation does (``1/true/yes/on``,
    ``0/false/no/off``, any case); absent is ``default``; anything else is a 400 naming it
    (the door has already checked the operations that declare the parameter)."""
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False if text else default
    raise InvalidInput(f"query parameter {name!r} must be true or false, got {quote(text)}")


def _cache_buster(name: str, values: list[str]) -> bool:
    """JupyterLab's ServerConnection appends ``?<epoch ms>`` (no value) to GET requests."""
    return name.isdigit() and not any(values)


_INTEGER_RE = re.compile(r"[+-]?[0-9]{1,40}")


@dataclass
class Parameter:
    name: str
    where: str  # path | query
    schema: dict
    required: bool = False

    @property
    def prefix(self) -> str | None:
        """``param.<name>``: any query parameter starting with ``param.``."""
        return self.name.split("<", 1)[0] if "<" in self.name else None


@dataclass
class Operation:
    method: str
    template: str
    regex: re.Pattern
    parameters: list[Parameter] = field(default_factory=list)
    body_schema: dict | None = None
    body_required: bool = False


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema: ``nullable`` becomes a null alternative;
    ``example``/``description`` are annotations jsonschema ignores anyway."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: _json_schema(value)
        for key, value in node.items()
        if not (key == "additionalProperties" and value is True)
    }  # the default, and slow
    if out.pop("nullable", False):
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class RequestValidator:
    """The operations of one OpenAPI document, with compiled validators."""

    def __init__(self, document: dict) -> None:
        import jsonschema

        self.components = _json_schema(document.get("components", {}))
        # OpenAPI 3.0 is a JSON Schema draft 4/5 dialect: an integer is not 1.0, as in draft 4.
        # The keywords whose jsonschema messages repeat the whole value (a 60 MB string, a
        # 100k-row list) are replaced by checks with short messages (describe() words them).
        self._validator_class = jsonschema.validators.extend(
            jsonschema.Draft7Validator,
            _SHORT_KEYWORDS,
            type_checker=jsonschema.Draft4Validator.TYPE_CHECKER,
        )
        self.operations: list[Operation] = []
        for template, item in document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters" or not isinstance(op, dict):
                    continue
                params = {(p["name"], p["in"]): p for p in [*shared, *op.get("parameters", [])]}
                parameters = [
                    Parameter(
                        p["name"],
                        p["in"],
                        _json_schema(p.get("schema", {})),
                        bool(p.get("required")),
                    )
                    for p in params.values()
                    if p["in"] in ("path", "query")
                ]
                body = op.get("requestBody") or {}
                schema = body.get("content", {}).get("application/json", {}).get("schema")
                self.operations.append(
                    Operation(
                        method.upper(),
                        template,
                        _template_regex(template, parameters),
                        parameters,
                        _json_schema(schema) if schema else None,
                        bool(body.get("required")),
                    )
                )
        # literal segments win over parameters (/jobs/scheduler before /jobs/{ref})
        self.operations.sort(key=lambda o: (o.template.count("{"), o.template))
        self._validators: dict[int, Any] = {}

    def operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation for ``method`` and ``path`` (below the API's base, still
        percent-encoded, as routes see it) with its decoded path parameters."""
        for op in self.operations:
            if op.method != method:
                continue
            match = op.regex.fullmatch(path)
            if match:
                return op, {k: unquote(v) for k, v in match.groupdict().items()}
        return None

    # -- checks -------------------------------------------------------------------------
    def check_parameters(
        self, op: Operation, path_values: dict[str, str], query: dict[str, list[str]]
    ) -> None:
        declared = {p.name for p in op.parameters if p.where == "query"}
        prefixes = tuple(p.prefix for p in op.parameters if p.where == "query" and p.prefix)
        unknown = sorted(
            name
            for name in query
            if name not in declared
            and name not in SERVER_QUERY_PARAMETERS
            and not (prefixes and name.startswith(prefixes))
            and not _cache_buster(name, query[name])
        )
        if unknown:
            raise InvalidInput(
                f"unknown query parameter {quote(unknown[0])}; this operation "
                f"takes {', '.join(sorted(declared)) or 'none'}"
            )
        for p in op.parameters:
            if p.prefix:
                continue
            label = f"{p.where} parameter {p.name!r}"
            if p.where == "path":
                raw: list[str] | None = [path_values[p.name]] if p.name in path_values else None
            else:
                raw = query.get(p.name)
            if not raw:
                if p.required:
                    raise InvalidInput(f"{label} is required")
                continue
            value = _convert(raw, p.schema, label)
            self._check(p.schema, value, label)

    def check_body(self, op: Operation, body: Any) -> None:
        if op.body_schema is not None:
            self._check(op.body_schema, body, "request body")

    def _check(self, schema: dict, value: Any, label: str) -> None:
        validator = self._validators.get(id(schema))
        if validator is None:
            root = {"allOf": [schema], "components": self.components}
            validator = self._validators[id(schema)] = self._validator_class(root)
        try:
            errors = list(validator.iter_errors(value))
        except RecursionError:
            raise InvalidInput(f"{label} is nested too deeply") from None
        if errors:
            import jsonschema

            raise InvalidInput(describe(jsonschema.exceptions.best_match(errors), label))


def _short_keyword(name: str, failed):
    def keyword(validator, expected, instance, schema):
        if failed(validator, expected, instance):
            from jsonschema.exceptions import ValidationError

            yield ValidationError(f"{name} {expected!r}"[:200])

    return keyword


def _same(a: Any, b: Any) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _is(kind: str):
    return lambda validator, instance: validator.is_type(instance, kind)


_string, _array, _number = _is("string"), _is("array"), _is("number")
_SHORT_KEYWORDS = {
    "type": _short_keyword(
        "type",
        lambda v, e, i: not any(v.is_type(i, t) for t in (e if isinstance(e, list) else [e])),
    ),
    "maxLength": _short_keyword("maxLength", lambda v, e, i: _string(v, i) and len(i) > e),
    "minLength": _short_keyword("minLength", lambda v, e, i: _string(v, i) and len(i) < e),
    "pattern": _short_keyword("pattern", lambda v, e, i: _string(v, i) and not re.search(e, i)),
    "enum": _short_keyword("enum", lambda v, e, i: not any(_same(x, i) for x in e)),
    "maximum": _short_keyword("maximum", lambda v, e, i: _number(v, i) and i > e),
    "minimum": _short_keyword("minimum", lambda v, e, i: _number(v, i) and i < e),
    "maxItems": _short_keyword("maxItems", lambda v, e, i: _array(v, i) and len(i) > e),
    "minItems": _short_keyword("minItems", lambda v, e, i: _array(v, i) and len(i) < e),
}


def _template_regex(template: str, parameters: list[Parameter]) -> re.Pattern:
    patterns = {p.name: p.schema.get("pattern") for p in parameters if p.where == "path"}
    out, pos = [], 0
    for match in re.finditer(r"\{([^}]+)\}", template):
        out.append(re.escape(template[pos : match.start()]))
        pattern = patterns.get(match.group(1))
        body = pattern.removeprefix("^").removesuffix("$") if pattern else "[^/]+"
        out.append(f"(?P<{match.group(1)}>{body})")
        pos = match.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


def _type(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def _convert(raw: list[str], schema: dict, label: str) -> Any:
    """A query (or path) parameter's text as the value its schema describes."""
    kind = _type(schema)
    if kind == "array":
        return [_convert([item], schema.get("items", {}), label) for item in raw]
    text = raw[-1]
    if kind == "integer":
        if not _INTEGER_RE.fullmatch(text.strip()):
            raise InvalidInput(f"{label} must be an integer, got {quote(text)}")
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise InvalidInput(f"{label} must be a number, got {quote(text)}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"{label} must be a finite number, got {quote(text)}")
        return number
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise InvalidInput(f"{label} must be true or false, got {quote(text)}")
    return text


_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _dotted(path) -> str:
    """``entity_rows[0].customer_id`` from jsonschema's path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _where(label: str, path) -> str:
    if not path:
        return label
    noun = "field" if label == "request body" else "item"
    return f"{label} {noun} {quote(_dotted(path))}"


def describe(error, label: str) -> str:
    """A short message for a jsonschema error: where, then what was expected. It quotes at
    most a short piece of the input (jsonschema's own messages repeat the whole value)."""
    where = _where(label, list(error.absolute_path))
    kind, expected = error.validator, error.validator_value
    if kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        return (
            f"{where} must be {' or '.join(_TYPE_NAMES.get(str(n), str(n)) for n in names)}, "
            f"not {_json_type(error.instance)}"
        )
    if kind == "required":
        missing = next(
            (
                name
                for name in expected
                if isinstance(error.instance, dict) and name not in error.instance
            ),
            expected[0],
        )
        return f"{_where(label, [*error.absolute_path, missing])} is required"
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)[:1] or ["?"]
        return (
            f"unknown field {quote(_dotted([*error.absolute_path, extra[0]]))} in "
            f"{label}; known: {', '.join(sorted(allowed)) or 'none'}"
        )
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "above",
            "exclusiveMaximum": "below",
        }[kind]
        return f"{where} must be {word} {expected}, got {quote(error.instance)}"
    if kind in ("maxLength", "minLength", "maxItems", "minItems", "maxProperties"):
        unit = "characters" if kind.endswith("Length") else "items"
        word = "at most" if kind.startswith("max") else "at least"
        return f"{where} must have {word} {expected} {unit}"
    if kind == "enum":
        return (
            f"{where} must be one of {', '.join(map(str, expected))}, got {quote(error.instance)}"
        )
    if kind == "pattern":
        return f"{where} must match {expected}, got {quote(error.instance)}"
    if kind in ("oneOf", "anyOf"):
        kinds = [_TYPE_NAMES.get(_type(s) or "", "") for s in expected]
        choice = " or ".join(k for k in kinds if k)
        return f"{where} must be {choice}" if choice else f"{where} is not valid"
    return f"{where} is not valid ({kind})"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@lru_cache(maxsize=1)
def served_validator() -> RequestValidator:
    """The validator of the description this package serves (built once per process)."""
    from .handlers import load_openapi

    return RequestValidator(copy.deepcopy(load_openapi()))
