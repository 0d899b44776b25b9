"""`jupyter mlinfra feature ...` as a user runs it: apply a definitions file, materialize,
build a frame, look up, with exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess

import pandas as pd

DEFINITIONS = """
import pandas as pd
from jupyter_mlinfra import features

features.entity("customer", join_keys=["customer_id"])

@features.feature_view("spend", entities="customer", source={source!r}, ttl="2d",
                       tags=["billing"], description="spend per customer")
def spend(df):
    df["amount_x2"] = df["amount"] * 2
    return df
"""


def run(*args):
    return subprocess.run(["jupyter", "mlinfra", "feature", *args], capture_output=True, text=True)


def test_feature_commands_end_to_end(mlinfra_env, tmp_path):
    source = tmp_path / "txns.csv"
    pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_timestamp": [
                "2024-01-01T00:00:00Z",
                "2024-01-02T00:00:00Z",
                "2024-01-02T00:00:00Z",
            ],
            "amount": [10.0, 30.0, 5.0],
        }
    ).to_csv(source, index=False)
    defs = tmp_path / "features_def.py"
    defs.write_text(DEFINITIONS.format(source=str(source)))

    applied = run("apply", str(defs))
    assert applied.returncode == 0, applied.stderr
    assert "spend v1: new" in applied.stdout
    assert "spend v1: unchanged" in run("apply", str(defs)).stdout

    mat = run("materialize", "spend", "--end", "2024-02-01")
    assert mat.returncode == 0, mat.stderr
    assert "3 rows" in mat.stdout

    listed = json.loads(run("list", "--tag", "billing", "--json").stdout)
    assert [v["name"] for v in listed] == ["spend"]
    described = run("describe", "spend")
    assert "amount_x2" in described.stdout and "offline: 3 rows" in described.stdout

    entities = tmp_path / "entities.csv"
    pd.DataFrame(
        {"customer_id": [2, 1], "event_timestamp": ["2024-01-03T00:00:00Z", "2024-01-05T00:00:00Z"]}
    ).to_csv(entities, index=False)
    out = tmp_path / "frame.parquet"
    framed = run(
        "frame", "--entities", str(entities), "--feature", "spend:amount_x2", "-o", str(out)
    )
    assert framed.returncode == 0, framed.stderr
    frame = pd.read_parquet(out)
    assert frame["amount_x2"].tolist()[0] == 10.0
    assert pd.isna(frame["amount_x2"].tolist()[1])  # 3 days after 01-02: outside the TTL
    lineage = json.loads((tmp_path / "frame.parquet.lineage.json").read_text())
    assert lineage["views"][0]["name"] == "spend" and lineage["views"][0]["version"] == 1

    online = json.loads(run("online", "spend:amount", "--key", "customer_id=1", "--json").stdout)
    assert online["status"][0]["amount"] == "expired"  # 2024 data, TTL 2 days

    missing = run("describe", "nope")
    assert missing.returncode == 3
    assert missing.stderr.strip() == "jupyter mlinfra feature: error: no feature view 'nope'"


def test_apply_of_a_broken_definitions_file_is_one_error_line(mlinfra_env, tmp_path):
    cases = {
        "syntax.py": (
            "from jupyter_mlinfra import features\nfeatures.entity('c', [\n",
            "line 2",
            "SyntaxError",
        ),
        "raises.py": (
            "from jupyter_mlinfra import features\n\nimport no_such_module_here\n",
            "line 3",
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        "deep.py": ("import json\n\njson.loads('{not json')\n", "line 3", "JSONDecodeError"),
    }
    for name, (text, line, error) in cases.items():
        defs = tmp_path / name
        defs.write_text(text)
        applied = run("apply", str(defs))
        assert applied.returncode == 2, applied.stderr
        assert "Traceback" not in applied.stderr
        assert applied.stderr.count("\n") == 1, applied.stderr
        assert f"{defs}, {line}: " in applied.stderr and error in applied.stderr
