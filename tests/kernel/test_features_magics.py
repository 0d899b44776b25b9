"""%%mlinfra feature NAME (the cell is the transform) and %mlinfra feature ... in a shell."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError


@pytest.fixture
def txns(ip):
    ip.user_ns["txns"] = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"], utc=True),
            "amount": [10.0, 30.0, 5.0],
        }
    )
    ip.run_line_magic("mlinfra", "feature entity customer --join-key customer_id")
    return ip


def test_cell_magic_defines_materializes_and_versions_a_view(txns, capsys):
    ip = txns
    cell = "def spend(df):\n    df['amount_x2'] = df['amount'] * 2\n    return df\n"
    ip.run_cell_magic(
        "mlinfra",
        "feature spend --entity customer --ttl 2d --source txns --tag billing --materialize",
        cell,
    )
    out = capsys.readouterr().out
    assert "feature view spend v1 registered: amount:float64, amount_x2:float64" in out
    assert "materialized spend v1: 3 rows" in out
    assert callable(ip.user_ns["spend"])  # the cell's function is defined as usual
    # Running the same cell again is a no-op; a changed cell is a new version.
    ip.run_cell_magic("mlinfra", "feature spend --entity customer --ttl 2d --source txns", cell)
    assert "spend v1 unchanged" in capsys.readouterr().out
    ip.run_cell_magic(
        "mlinfra",
        "feature spend --entity customer --ttl 2d --source txns",
        "df['amount_x2'] = df['amount'] * 3\n",
    )  # statements on df
    assert "spend v2 registered" in capsys.readouterr().out

    ip.run_line_magic("mlinfra", "feature list billing")
    listing = capsys.readouterr().out
    assert "spend" in listing and "amount_x2" in listing and "2d" in listing
    ip.run_line_magic("mlinfra", "feature describe spend --version 1")
    described = capsys.readouterr().out
    assert "spend v1 (latest v2)" in described and "amount_x2" in described


def test_frame_online_push_and_sample(txns, capsys):
    ip = txns
    ip.run_cell_magic(
        "mlinfra",
        "feature spend --entity customer --source txns --materialize",
        "def transform(df):\n    return df\n",
    )
    ip.user_ns["entity_df"] = pd.DataFrame(
        {
            "customer_id": [2, 1],
            "event_timestamp": pd.to_datetime(["2024-01-05", "2024-01-01"], utc=True),
        }
    )
    ip.run_line_magic("mlinfra", "feature frame entity_df spend:amount --as train")
    assert "train: 2 rows x 3 columns from spend v1" in capsys.readouterr().out
    assert ip.user_ns["train"]["amount"].tolist() == [5.0, 10.0]
    online = ip.run_line_magic("mlinfra", "feature online spend:amount --key customer_id=1")
    assert online["amount"].tolist() == [30.0]
    ip.user_ns["new_rows"] = [
        {"customer_id": 3, "amount": 1.0, "event_timestamp": pd.Timestamp("2024-01-03", tz="UTC")}
    ]
    ip.run_line_magic("mlinfra", "feature push spend new_rows")
    assert "pushed 1 row(s) to spend v1" in capsys.readouterr().out
    sample = ip.run_line_magic("mlinfra", "feature sample spend -n 1")
    assert sample["customer_id"].tolist() == [3]


def test_bad_input_is_a_usage_error(txns):
    ip = txns
    with pytest.raises(UsageError, match="unknown action"):
        ip.run_line_magic("mlinfra", "feature frobnicate")
    with pytest.raises(UsageError, match="no feature view 'nope'"):
        ip.run_line_magic("mlinfra", "feature describe nope")
    with pytest.raises(UsageError, match="invalid TTL"):
        ip.run_cell_magic(
            "mlinfra", "feature spend --entity customer --ttl soon --source txns", "df['x'] = 1.0\n"
        )
    with pytest.raises(UsageError):
        ip.run_cell_magic("mlinfra", "feature spend --ttl 2d", "df['x'] = 1.0\n")  # no entity
