"""The front end's TypeScript types (labextension/src/types/*.ts) agree with the OpenAPI
description the server serves at /mlinfra/api/openapi.json: a response type names no field the
schema does not have, and leaves out no field the schema requires; a request type names no
field the server would refuse. Both sides are parsed (the TS side with the TypeScript
compiler's own parser, labextension/scripts/typeFields.js), so a renamed field fails here
instead of showing "undefined" on a page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"

# TS interface -> where its JSON is described: a component schema, or an operation's answer.
RESPONSES = {
    "ErrorBody": "Error",
    "Health": "Health",
    "JobInfo": "Job",
    "RunInfo": "Run",
    "RunPage": ("get", "/runs"),
    "RunLogChunk": "RunLog",
    "NotebookParameters": ("get", "/jobs/notebook-parameters"),
    "SchedulePreview": ("get", "/jobs/schedule-preview"),
    "ModelSummary": "ModelSummary",
    "ModelDetails": "Model",
    "ModelVersionInfo": "ModelVersion",
    "ModelComparison": "Comparison",
    "ReproductionResult": "Reproduction",
    "FeatureViewSummary": "FeatureViewSummary",
    "FeatureViewDetails": "FeatureViewDetails",
    "FeatureTable": "Table",
    "ExecutedNotebook": "ExecutedNotebook",
    "ProvenanceExecution": "ProvenanceExecution",
    "ProvenanceFinding": "ProvenanceFinding",
    "ProvenanceReport": "ProvenanceReport",
    "ProvenanceView": "ProvenanceView",
    "VerifyResult": "VerifyResult",
    "ExampleNotebook": "Example",
    "ExampleNotebookPage": ("get", "/examples"),
    "ExampleCopy": "ExampleCopy",
}
REQUESTS = {"JobCreate": "JobCreate", "JobUpdate": "JobUpdate"}


def ts_interfaces() -> dict:
    node = shutil.which("node")
    if node is None or not (LABEXTENSION / "node_modules" / "typescript").is_dir():
        pytest.skip("needs node and labextension/node_modules (cd labextension && jlpm install)")
    out = subprocess.run(
        [node, str(LABEXTENSION / "scripts" / "typeFields.js")],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return json.loads(out)


def ts_fields(interfaces: dict, name: str) -> dict:
    """An interface's fields with those of the interfaces it extends."""
    found = interfaces[name]
    fields = {}
    for parent in found.get("extends", []):
        if parent in interfaces:
            fields.update(ts_fields(interfaces, parent))
    fields.update(found["fields"])
    return fields


def resolve(doc: dict, schema: dict) -> dict:
    """A schema with its $ref followed and its allOf parts merged."""
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema:
        merged: dict = {"properties": {}, "required": []}
        for part in schema["allOf"]:
            part = resolve(doc, part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return schema


def described(doc: dict, where) -> dict:
    if isinstance(where, str):
        return resolve(doc, doc["components"]["schemas"][where])
    method, path = where
    answer = doc["paths"][path][method]["responses"]
    ok = answer.get("200") or answer.get("201")
    return resolve(doc, ok["content"]["application/json"]["schema"])


async def served_description(jp_fetch) -> dict:
    response = await jp_fetch("mlinfra", "api", "openapi.json")
    return json.loads(response.body)


def mismatches(doc: dict, interfaces: dict) -> list[str]:
    problems = []
    for ts_name, where in RESPONSES.items():
        schema = described(doc, where)
        properties = schema.get("properties")
        if not properties:
            problems.append(f"{ts_name}: {where} describes no fields to check it against")
            continue
        fields = ts_fields(interfaces, ts_name)
        for field in sorted(set(fields) - set(properties)):
            problems.append(f"{ts_name}.{field}: not in the served schema {where}")
        for field in schema.get("required", []):
            if field not in fields:
                problems.append(f"{ts_name} misses {field}, required by {where}")
            elif fields[field]["optional"]:
                problems.append(f"{ts_name}.{field} is optional but {where} requires it")
    for ts_name, where in REQUESTS.items():
        schema = described(doc, where)
        fields = ts_fields(interfaces, ts_name)
        for field in sorted(set(fields) - set(schema.get("properties", {}))):
            problems.append(f"{ts_name}.{field}: the server refuses it ({where})")
    return problems


async def test_ts_types_match_the_served_openapi_description(jp_fetch):
    served = await served_description(jp_fetch)
    interfaces = ts_interfaces()
    missing = sorted((set(RESPONSES) | set(REQUESTS)) - set(interfaces))
    assert not missing, f"no such TS interface: {missing}"
    problems = mismatches(served, interfaces)
    assert not problems, "\n".join(problems)


async def test_a_renamed_field_is_caught(jp_fetch):
    """The check sees a TS field the schema lacks and a required field the TS type drops."""
    served = await served_description(jp_fetch)
    interfaces = ts_interfaces()
    interfaces["JobInfo"]["fields"]["timeout_secs"] = {"optional": False}
    doc = json.loads(json.dumps(served))
    doc["components"]["schemas"]["Run"].setdefault("required", []).append("id_of_run")
    problems = mismatches(doc, interfaces)
    assert "JobInfo.timeout_secs: not in the served schema Job" in problems
    assert "RunInfo misses id_of_run, required by Run" in problems
