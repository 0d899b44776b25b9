"""Reading a notebook in a user's process that imported ``jupyter_mlinfra.jobs`` (as a
``jobs.run`` does) does not compile rfc3987_syntax's grammars (seconds of CPU), and IRI
checks answer as they would without it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("rfc3987_syntax")

CHECKS = """
import json, sys
{prelude}
import nbformat, jsonschema
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
nbformat.validate(nbformat.reads(nbformat.writes(nb), as_version=4))
compiled_on_read = "rfc3987_syntax.syntax_helpers" in sys.modules
fc = jsonschema.FormatChecker()
answers = [fc.conforms(v, f) for v in ("http://example.com/\u00fc", "::no", "a b", "/x?y#z")
           for f in ("iri", "iri-reference")]
import rfc3987_syntax
answers.append(rfc3987_syntax.is_valid_syntax("iri", "https://example.com/"))
answers.append(sorted(rfc3987_syntax.RFC3987_SYNTAX_RULE_NAMES)[:3]
               if hasattr(rfc3987_syntax, "RFC3987_SYNTAX_RULE_NAMES") else None)
print(json.dumps({"compiled_on_read": compiled_on_read, "answers": answers}))
"""


def checks(prelude: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHECKS.replace("{prelude}", prelude)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_reading_a_notebook_does_not_compile_iri_grammars_and_checks_are_unchanged():
    plain = checks("")
    with_mlinfra = checks("from jupyter_mlinfra import jobs")
    assert plain["compiled_on_read"] is True  # what every run paid before
    assert with_mlinfra["compiled_on_read"] is False
    assert with_mlinfra["answers"] == plain["answers"]
