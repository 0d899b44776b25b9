"""A feature view whose source is the output of a job: ``job:<job>/<artifact>`` reads the
table the latest succeeded run logged with ``jupyter_mlinfra.log_artifact``."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlinfra.core.errors import InvalidInput

ETL = """
import pandas as pd, jupyter_mlinfra
rows = pd.DataFrame({"customer_id": [1, 2], "amount": [amount, amount * 2],
                     "event_timestamp": pd.to_datetime([day, day], utc=True)})
jupyter_mlinfra.log_artifact("txns.parquet", rows)
"""


def test_view_reads_the_latest_succeeded_run_of_a_job(fs, workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nb = new_notebook(
        cells=[
            new_code_cell("amount = 1.0\nday = '2024-01-01'", metadata={"tags": ["parameters"]}),
            new_code_cell(ETL),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "python3"}
    nbformat.write(nb, tmp_path / "etl.ipynb")
    from jupyter_mlinfra import jobs

    jobs.create("etl", "etl.ipynb")
    fs.register_entity("customer", ["customer_id"])
    with pytest.raises(InvalidInput, match="no succeeded run"):
        fs.register_view("spend", entities="customer", source="job:etl/txns.parquet")
    assert jobs.run(job="etl", wait=True, timeout=120)["state"] == "succeeded"
    fs.register_view("spend", entities="customer", source="job:etl/txns.parquet")
    fs.materialize("spend", end="2024-01-02")
    # The next run's output is picked up by the next (incremental) materialization.
    assert (
        jobs.run(
            job="etl", parameters={"amount": 5.0, "day": "2024-01-03"}, wait=True, timeout=120
        )["state"]
        == "succeeded"
    )
    assert fs.materialize("spend", end="2024-01-04")["rows"] == 2
    frame = fs.get_training_frame(
        pd.DataFrame(
            {
                "customer_id": [2, 2],
                "event_timestamp": pd.to_datetime(["2024-01-02", "2024-01-03"], utc=True),
            }
        ),
        ["spend:amount"],
    )
    assert frame["amount"].tolist() == [2.0, 10.0]
