"""The model store's replay of a model fitted in the registering cell includes the cell that
wrote the file that cell reads, and the seeding of numpy's global generator (issue 11, items 4
and 5), in a real IPython shell with the recorder on."""

from __future__ import annotations

from jupyter_mlinfra.core.workspace import get_workspace


def test_register_in_the_cell_that_reads_a_file_replays_its_writer(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cells = [
        (
            "f-imports",
            "import numpy as np\nimport pandas as pd\n"
            "from sklearn.linear_model import LogisticRegression",
        ),
        ("f-seed", "np.random.seed(3)"),
        (
            "f-write",
            "pd.DataFrame({'a': np.random.rand(8), 'y': [0, 1] * 4})"
            ".to_csv('train.csv', index=False)",
        ),
        ("f-unrelated", "note = 'not needed'"),
    ]
    for cell_id, source in cells:
        assert ip.run_cell(source, store_history=True, cell_id=cell_id).success
    cell = (
        "from jupyter_mlinfra import models\n"
        "data = pd.read_csv('train.csv')\n"
        "clf = LogisticRegression().fit(data[['a']], data['y'])\n"
        "v = models.register('from_file', clf)"
    )
    assert ip.run_cell(cell, store_history=True, cell_id="f-fit").success
    v = ip.user_ns["v"]
    assert v.code["replay_origin"] == "provenance"
    script = get_workspace().service("models").read_artifact(v, "replay.py").decode()
    assert "np.random.seed(3)" in script  # the values the file holds were drawn
    assert ".to_csv('train.csv', index=False)" in script  # the file's writer
    assert "note = 'not needed'" not in script
