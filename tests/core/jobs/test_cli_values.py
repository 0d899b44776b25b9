"""``-p name value`` and ``-g name v1,v2`` values are typed as papermill types them."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from papermill.cli import _resolve_type

from jupyter_mlinfra.core.jobs.validation import parse_cli_value

VALUES = [
    "1", "-2", "+3", " 4 ", "1_000", "0x10", "010", "1.5", "-1e3", ".5", "1.", "nan", "inf",
    "-Infinity", "True", "False", "None", "true", "none", "abc", "", "1,2", "١٢", "[1]", "'x'",
]  # fmt: skip


@pytest.mark.parametrize("raw", VALUES)
def test_cli_values_are_typed_like_papermill(raw):
    ours, theirs = parse_cli_value(raw), _resolve_type(raw)
    assert type(ours) is type(theirs)
    assert ours == theirs or (isinstance(ours, float) and math.isnan(ours) and math.isnan(theirs))


def test_typing_a_value_does_not_import_papermill():
    """``jupyter mlinfra sweep`` and ``run`` with a scheduler serving only submit: they no
    longer pay papermill's and nbclient's import (0.3 s of CPU) to type their values."""
    code = (
        "import json, sys\n"
        "from jupyter_mlinfra.core.jobs.validation import parse_cli_value\n"
        "print(json.dumps([parse_cli_value('3'), 'papermill' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [3, False]
