"""``%mlinfra model ...`` in a real IPython shell, with provenance recording the cells."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.workspace import get_workspace

CELLS = [
    ("m-imports", "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression"),
    (
        "m-data",
        "df = pd.DataFrame({'a': [0., 1., 2., 3., 4., 5.], 'b': [1., 0., 1., 0., 1., 0.]})"
        "\ny = [0, 0, 0, 1, 1, 1]",
    ),
    (
        "m-feat",
        "def featurize(frame):\n    # doubled, as in production\n"
        "    return frame[['a', 'b']] * 2\n",
    ),
    ("m-fit", "clf = LogisticRegression(C=3.0).fit(featurize(df), y)"),
]


def _run(ip, source, cell_id):
    result = ip.run_cell(source, store_history=True, cell_id=cell_id)  # as a kernel does
    return result


def test_register_from_a_cell_keeps_cell_source_and_replay_order(ip, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for cell_id, source in CELLS:
        assert _run(ip, source, cell_id).success
    assert _run(
        ip,
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "plt.figure(); plt.plot([0, 1], [0, 1]); plt.title('roc')",
        "m-plot",
    ).success
    result = _run(
        ip,
        "%mlinfra model register clf --name toy --alias staging --tag team=x "
        "--metric acc=0.83 --featurize featurize --example df --train df "
        "--description 'first toy'",
        "m-reg",
    )
    assert result.success, result.error_in_exec
    assert "registered toy:1, alias @staging" in capsys.readouterr().out
    store = get_workspace().service("models")
    v = store.get("toy@staging")
    assert v.metrics == {"acc": 0.83} and v.tags["team"] == "x"
    assert v.description == "first toy"
    assert v.code["functions"]["featurize"]["origin"] == "provenance cell source"
    source = store.read_artifact(v, "functions.py").decode()
    assert "# doubled, as in production\n    return frame[['a', 'b']] * 2" in source
    assert v.code["replay_origin"] == "provenance" and v.code["variable"] == "clf"
    replay_ids = [c["cell_id"] for c in v.code["replay"]]
    assert replay_ids[-1] == "m-fit" and {"m-data", "m-feat", "m-imports"} <= set(replay_ids)
    assert v.clean is True, v.dirty_reasons
    assert v.signature["inputs"]["columns"][0]["name"] == "a"
    # the figure open in the kernel is kept, rendered to PNG
    assert store.read_artifact(v, "figure-1-roc.png").startswith(b"\x89PNG")
    _run(ip, "plt.close('all')", "m-close")

    # the data cell changes after the model was fitted: the model now depends on stale state
    assert _run(
        ip,
        "df = pd.DataFrame({'a': [5., 4., 3., 2., 1., 0.], 'b': [0.] * 6})\ny = [1, 1, 1, 0, 0, 0]",
        "m-data",
    ).success
    with pytest.warns(UserWarning, match="clean: false"):
        assert _run(ip, "%mlinfra model register clf --name toy", "m-reg2").success
    v2 = store.get("toy:2")
    assert v2.clean is False and v2.dirty_reasons
    refused = _run(ip, "%mlinfra model register clf --name toy --require-clean", "m-reg3")
    assert not refused.success
    assert "refusing" in str(refused.error_in_exec)
    assert store.get("toy").version == 2

    card = ip.run_line_magic("mlinfra", "model show toy")
    html = card._repr_html_()
    assert "Model toy" in html and "@staging" in html and "dirty" in html
    ip.run_line_magic("mlinfra", "model load toy@staging --as served")
    served = ip.user_ns["served"]
    assert list(served.predict(ip.user_ns["df"])) == list(
        ip.user_ns["clf"].predict(ip.user_ns["featurize"](ip.user_ns["df"]))
    )
    ip.run_line_magic("mlinfra", "model alias toy production 2 --protect")
    ip.run_line_magic("mlinfra", "model list --metric acc>=0.8")
    out = capsys.readouterr().out
    assert "toy@production -> version 2 (protected)" in out
    assert "toy" in out and "staging->1" in out
    ip.run_line_magic("mlinfra", "model compare toy:1 toy:2")
    out = capsys.readouterr().out
    assert "compare toy:1 -> toy:2" in out and "acc: 0.83 -> None" in out


def test_bad_model_commands_are_usage_errors(ip):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="unknown action"):
        ip.run_line_magic("mlinfra", "model frobnicate")
    with pytest.raises(UsageError, match="no variable"):
        ip.run_line_magic("mlinfra", "model register nothing_here --name x")
    with pytest.raises(UsageError, match="no model"):
        ip.run_line_magic("mlinfra", "model show missing")
    with pytest.raises(UsageError):
        ip.run_line_magic("mlinfra", "model register")


def test_alias_to_version_0_is_a_usage_error_and_python_says_invalid_input(ip):
    from IPython.core.error import UsageError

    from jupyter_mlinfra import models
    from jupyter_mlinfra.core.errors import InvalidInput

    ip.run_cell(
        "from sklearn.linear_model import LogisticRegression\n"
        "clf = LogisticRegression().fit([[0.], [1.]], [0, 1])"
    )
    ip.run_line_magic("mlinfra", "model register clf --name tiny --alias prod")
    ip.run_line_magic("mlinfra", "model register clf --name tiny")
    for bad in ("0", "-1", str(2**64)):
        with pytest.raises(UsageError, match="versions are integers from 1"):
            ip.run_line_magic("mlinfra", f"model alias tiny prod {bad}")
    for bad in (0, -3, 2**63, "0"):
        with pytest.raises(InvalidInput, match="versions are integers from 1"):
            models.set_alias("tiny", "prod", bad)
    assert get_workspace().service("models").get("tiny@prod").version == 1


def test_register_in_the_cell_that_fits_uses_the_replay_of_what_it_reads(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for cell_id, source in CELLS[:3]:
        assert _run(ip, source, cell_id).success
    assert _run(ip, "hidden_weight = 3.0", "m-hidden").success
    ip.run_line_magic("unload_ext", "jupyter_mlinfra")  # forget the cell defining it...
    ip.run_line_magic("load_ext", "jupyter_mlinfra")  # ...as after a deleted cell
    for cell_id, source in CELLS[:3]:
        assert _run(ip, source, cell_id).success
    assert _run(ip, "unused = 42", "m-unused").success
    cell = (
        "from jupyter_mlinfra import models\n"
        "clf2 = LogisticRegression(C=hidden_weight).fit(featurize(df), y)\n"
        "v = models.register('toy2', clf2, featurize=featurize)"
    )
    with pytest.warns(UserWarning, match="hidden_weight"):
        assert _run(ip, cell, "m-fit-and-register").success
    v = ip.user_ns["v"]
    assert v.code["replay_origin"] == "provenance"
    store = get_workspace().service("models")
    script = store.read_artifact(v, "replay.py").decode()
    assert "def featurize(frame):" in script and "df = pd.DataFrame" in script
    assert "unused = 42" not in script
    assert script.rstrip().endswith("v = models.register('toy2', clf2, featurize=featurize)")
    assert v.clean is False and "hidden_weight" in v.dirty_reasons[0]
