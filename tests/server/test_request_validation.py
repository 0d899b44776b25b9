"""The REST door: every request body and query parameter is checked against the OpenAPI
description before a handler runs (400 naming the field, never a 500), errors quote only a
short piece of the input, bodies have a size limit, and the description's path parameters
are exactly what the routes match."""

from __future__ import annotations

import json
import logging
import re

import pytest
from tornado.httpclient import HTTPClientError

BODY_LIMIT = 4 * 1024 * 1024


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlinfra": True}},
        "MLInfra": {"max_request_body_bytes": BODY_LIMIT},
    }


async def _error(jp_fetch, method, parts, *, body=None, params=None, raw=None):
    """The answer to a request that must fail: (status, error object, body bytes)."""
    kwargs = {"method": method}
    if body is not None or raw is not None:
        kwargs["body"] = raw if raw is not None else json.dumps(body)
    if params:
        kwargs["params"] = params
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", *parts, **kwargs)
    response = err.value.response
    assert response.headers["Content-Type"].startswith("application/json"), response.body[:200]
    return err.value.code, json.loads(response.body)["error"], response.body


# The seven validation gaps of issue 10 (62 answers were HTTP 500), one or more requests each.
BAD_INPUT = [
    (
        "entity rows not objects",
        "POST",
        ["features", "online"],
        {"features": ["spend:amount"], "entity_rows": [1, 2]},
        None,
        "entity_rows[",
    ),
    (
        "entity rows not objects (frame)",
        "POST",
        ["features", "training-frame"],
        {"features": ["spend:amount"], "entity_rows": ["a"]},
        None,
        "entity_rows[0]",
    ),
    (
        "feature ref an object",
        "POST",
        ["features", "online"],
        {"features": [{"view": "spend"}], "entity_rows": [{"customer_id": 1}]},
        None,
        "features[0]",
    ),
    ("path a list", "POST", ["provenance", "check"], {"path": ["nb.ipynb"]}, None, "path"),
    ("path a list (verify)", "POST", ["provenance", "verify"], {"path": ["a", "b"]}, None, "path"),
    (
        "tolerance a string",
        "POST",
        ["models", "toy", "versions", "1", "reproduce"],
        {"tolerance": "high"},
        None,
        "tolerance",
    ),
    (
        "rtol a string",
        "POST",
        ["provenance", "verify"],
        {"path": "nb.ipynb", "rtol": "x"},
        None,
        "rtol",
    ),
    ("tags not a mapping", "PATCH", ["models", "toy"], {"tags": ["team=x"]}, None, "tags"),
    (
        "tags not a mapping (version)",
        "PATCH",
        ["models", "toy", "versions", "1"],
        {"tags": "team=x"},
        None,
        "tags",
    ),
    (
        "description an object",
        "PATCH",
        ["models", "toy"],
        {"description": {"a": 1}},
        None,
        "description",
    ),
    (
        "description an object (version)",
        "PATCH",
        ["models", "toy", "versions", "1"],
        {"description": {"sql": 1}},
        None,
        "description",
    ),
    (
        "version not an integer",
        "PUT",
        ["models", "toy", "aliases", "prod"],
        {"version": 1.5},
        None,
        "version",
    ),
    (
        "version not an integer (predict)",
        "POST",
        ["models", "toy", "predict"],
        {"records": [{}], "version": "two"},
        None,
        "version",
    ),
    (
        "version not an integer (query)",
        "GET",
        ["features", "views", "spend"],
        None,
        {"version": "latest"},
        "version",
    ),
    (
        "timestamp a list",
        "POST",
        ["features", "views", "spend", "materialize"],
        {"start": ["2024-01-01"]},
        None,
        "start",
    ),
    (
        "timestamp a list (entity rows)",
        "POST",
        ["features", "training-frame"],
        {
            "features": ["spend:amount"],
            "entity_rows": [{"customer_id": 1, "event_timestamp": [2024, 1, 1]}],
        },
        None,
        "event_timestamp",
    ),
    (
        "integer past 64 bits",
        "POST",
        ["runs"],
        {"notebook": "nb.ipynb", "priority": 2**64},
        None,
        "priority",
    ),
    (
        "integer past 64 bits (alias)",
        "PUT",
        ["models", "toy", "aliases", "prod"],
        {"version": 2**63},
        None,
        "version",
    ),
    ("integer past 64 bits (query)", "GET", ["runs"], None, {"limit": str(2**70)}, "limit"),
    (
        "integer past 64 bits (path)",
        "GET",
        ["models", "toy", "versions", str(2**64)],
        None,
        None,
        "version",
    ),
    (
        "version 0 is not latest",
        "PUT",
        ["models", "toy", "aliases", "prod"],
        {"version": 0},
        None,
        "version",
    ),
    (
        "unknown field",
        "POST",
        ["jobs"],
        {"name": "j", "notebook": "nb.ipynb", "root_dir": "/"},
        None,
        "root_dir",
    ),
    ("unknown query parameter", "GET", ["jobs"], None, {"colour": "red"}, "colour"),
    ("not JSON", "POST", ["runs"], "{not json", None, "JSON"),
    (
        "nested too deeply",
        "POST",
        ["features", "views", "spend", "push"],
        '{"rows": [{"a": ' + "[" * 5000 + "]" * 5000 + "}]}",
        None,
        "nested",
    ),
]


@pytest.mark.parametrize(
    "case,method,parts,body,params,field", BAD_INPUT, ids=[c[0] for c in BAD_INPUT]
)
async def test_bad_input_is_a_400_naming_the_field(
    jp_fetch, case, method, parts, body, params, field
):
    raw, body = (body, None) if isinstance(body, str) else (None, body)
    code, error, _ = await _error(jp_fetch, method, parts, body=body, params=params, raw=raw)
    assert code == 400, error
    assert error["code"] == "invalid_input"
    assert field in error["message"], error["message"]


async def test_a_one_megabyte_job_name_gets_a_short_answer_and_log_line(jp_fetch, caplog):
    name = "x" * 1_000_000
    code, error, raw = await _error(
        jp_fetch, "POST", ["jobs"], body={"name": name, "notebook": "nb.ipynb"}
    )
    assert code == 400 and "name" in error["message"]
    assert len(raw) < 1000
    # a name that passes the schema's length but reaches a handler's own message is cut too
    code, error, raw = await _error(jp_fetch, "GET", ["jobs", "y" * 30_000])
    assert code in (400, 404) and len(raw) < 1000
    # our own log lines (the access log's request line is jupyter_server's, bounded by
    # tornado's 64 kB header limit)
    ours = [r for r in caplog.records if r.pathname.endswith("server/base.py")]
    assert ours and all(len(r.getMessage()) < 1000 for r in ours)


async def test_a_body_over_the_limit_is_413_before_it_is_parsed(jp_fetch):
    body = json.dumps({"name": "j", "notebook": "nb.ipynb", "description": "d" * BODY_LIMIT})
    code, error, raw = await _error(jp_fetch, "POST", ["jobs"], raw=body)
    assert code == 413 and error["code"] == "request_too_large"
    assert str(BODY_LIMIT) in error["message"] and len(raw) < 1000


def _route_templates():
    """The route table as OpenAPI templates: {path: {param: regex}} (an alternation group
    such as ``(?P<action>run|pause|resume)`` gives one literal path per alternative)."""
    from jupyter_mlinfra.server.routes import ROUTES

    out = {}
    for pattern, _handler in ROUTES:
        if pattern == "/.*":  # the catch-all: a JSON 404 for any other path
            continue
        variants = [("", {})]
        pos = 0
        for group in re.finditer(r"\(\?P<(\w+)>((?:[^()\\]|\\.)+)\)", pattern):
            literal = pattern[pos : group.start()].replace("\\", "")
            name, regex = group.groups()
            if re.fullmatch(r"[a-z\-]+(\|[a-z\-]+)+", regex):  # literal alternatives
                variants = [
                    (p + literal + alt, params)
                    for p, params in variants
                    for alt in regex.split("|")
                ]
            else:
                variants = [
                    (p + literal + "{" + name + "}", {**params, name: regex})
                    for p, params in variants
                ]
            pos = group.end()
        tail = pattern[pos:].replace("\\", "")
        for path, params in variants:
            out[path + tail] = params
    return out


def test_the_descriptions_paths_and_parameters_are_the_routes():
    """A path the description allows is a path a route matches (and back): a path
    parameter's pattern is its route's regex; a whole segment (``[^/]+``, any value once
    percent-encoded) has no pattern; an integer is the route's ``[0-9]+``."""
    from jupyter_mlinfra.server.handlers import load_openapi

    doc = load_openapi()
    routes = _route_templates()
    assert set(doc["paths"]) == set(routes)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            declared = {
                p["name"]: p["schema"]
                for p in [*item.get("parameters", []), *op.get("parameters", [])]
                if p["in"] == "path"
            }
            assert set(declared) == set(routes[path]), (path, method)
            for name, schema in declared.items():
                route = routes[path][name]
                if schema.get("type") == "integer":
                    assert route == "[0-9]+", (path, name)
                elif route == "[^/]+":
                    assert "pattern" not in schema and schema.get("minLength") == 1, (path, name)
                else:
                    assert schema.get("pattern") == f"^{route}$", (path, name, route)


def test_every_integer_in_a_request_is_bounded_to_64_bits():
    """Parameters and request bodies (following $refs): an integer past 64 bits is a 400 at
    the door, never an overflow in the catalog."""
    from jupyter_mlinfra.server.handlers import load_openapi

    doc = load_openapi()
    unbounded = []

    def walk(node, where):
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                return walk(doc["components"]["schemas"][name], node["$ref"])
            if node.get("type") == "integer" and not (
                -(2**63) <= node.get("minimum", -(2**64)) and node.get("maximum", 2**64) < 2**63
            ):
                unbounded.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                walk(op, f"{path} parameters")
            else:
                walk(op.get("parameters", []), f"{path} {method} parameters")
                walk(op.get("requestBody", {}), f"{path} {method} body")
    assert not unbounded, unbounded[:5]


async def test_the_log_of_a_bad_request_is_one_short_line(jp_fetch, caplog):
    caplog.set_level(logging.WARNING)
    await _error(jp_fetch, "POST", ["jobs"], body={"name": "z" * 500_000, "notebook": "nb.ipynb"})
    lines = [r for r in caplog.records if "mlinfra/api/jobs" in r.getMessage()]
    assert lines and all(len(r.getMessage()) < 1000 for r in lines)
    assert not any(r.exc_info for r in lines)


async def test_an_unexpected_error_is_a_generic_500_with_its_traceback_in_the_log(
    jp_fetch, jp_serverapp, caplog
):
    # A handler failing on something nobody foresaw (here: a stand-in raising an error whose
    # text holds SQL and a parameter, as a catalog error does): the answer says "internal
    # server error" and a reference; the SQL and the traceback are only in the server log.
    from jupyter_server.utils import url_path_join
    from tornado import web

    from jupyter_mlinfra.server.base import MLInfraHandler

    class Broken(MLInfraHandler):
        @web.authenticated
        def get(self):
            raise RuntimeError(
                "(sqlite3.IntegrityError) UPDATE models SET description=? [parameters: ('secret',)]"
            )

    base = jp_serverapp.web_app.settings["base_url"]
    jp_serverapp.web_app.add_handlers(".*$", [(url_path_join(base, "test-broken"), Broken)])
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("test-broken")
    assert err.value.code == 500
    error = json.loads(err.value.response.body)["error"]
    assert error["code"] == "internal_error" and "UPDATE" not in error["message"]
    reference = re.search(r"reference ([0-9a-f]{12})", error["message"]).group(1)
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info and "UPDATE models" in str(logged[0].exc_info[1])
