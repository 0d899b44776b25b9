"""Static analysis of one cell: reads, binds, mutations, deferred effects of functions."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.provenance.names import analyze_source, python_source


@pytest.mark.parametrize(
    "source, reads, binds, mutates, deletes",
    [
        ("x = 1\nprint(x)", set(), {"x"}, set(), set()),  # read after own bind
        ("y = x\nx = 2", {"x"}, {"x", "y"}, set(), set()),  # read before bind
        ("sq = [x * k for x in range(n)]", {"k", "n"}, {"sq"}, set(), set()),  # comprehension var
        ("total += step", {"total", "step"}, {"total"}, {"total"}, set()),  # augmented
        ("d['a'] = v\nobj.attr = w", {"d", "v", "obj", "w"}, set(), {"d", "obj"}, set()),
        (
            "items.append(3)\nmodel.fit(X, y)",
            {"items", "model", "X", "y"},
            set(),
            {"items", "model"},
            set(),
        ),
        ("df.dropna(inplace=True)", {"df"}, set(), {"df"}, set()),
        (
            "random.shuffle(deck)",
            {"random", "deck", "<rng:random>"},
            set(),
            {"deck", "<rng:random>"},
            set(),
        ),  # draws, mutates deck
        ("del a, cache['k']", {"cache"}, set(), {"cache"}, {"a"}),
        (
            "import numpy as np, os.path\nfrom math import pi as PI",
            set(),
            {"np", "os", "PI"},
            set(),
            set(),
        ),
        (
            "for i, row in enumerate(rows):\n    acc = acc + row",
            {"rows", "acc"},
            {"i", "row", "acc"},
            set(),
            set(),
        ),
        (
            "with open(p) as fh:\n    text = fh.read()",
            {"p", "<file?:p|>"},
            {"fh", "text"},
            {"fh"},
            set(),
        ),  # the file the kernel finds in `p` is read
        (
            "if (m := pattern.search(s)):\n    hit = m.group(0)",
            {"pattern", "s"},
            {"m", "hit"},
            set(),
            set(),
        ),
        ("data = await fetch(url)", {"fetch", "url"}, {"data"}, {"url"}, set()),  # top-level await
        (
            "try:\n    v = risky()\nexcept ValueError as err:\n    v = None",
            {"risky"},
            {"v"},
            set(),
            set(),
        ),
    ],
)
def test_effects(source, reads, binds, mutates, deletes):
    e = analyze_source(source)
    assert (e.reads, e.binds, e.mutates, e.deletes) == (reads, binds, mutates, deletes)


def test_function_bodies_are_deferred_and_parameters_are_local():
    e = analyze_source(
        "def score(x, *, w=weight):\n    global calls\n    calls += 1\n"
        "    history.append(x)\n    return x * factor\n"
    )
    assert e.reads == {"weight"}  # the default is evaluated at definition time
    assert e.binds == {"score"}
    assert e.deferred_reads["score"] == {"calls", "history", "factor"}
    assert e.deferred_mutates["score"] == {"history"}
    assert e.deferred_binds["score"] == {"calls"}


def test_class_body_runs_now_methods_later():
    e = analyze_source(
        "class Model(Base):\n    size = default_size\n"
        "    def predict(self, X):\n        return X @ coef\n"
    )
    assert e.reads == {"Base", "default_size"}
    assert e.deferred_reads["Model"] == {"coef"}


def test_lambda_assigned_defers_its_reads():
    e = analyze_source("f = lambda t: t + offset")
    assert e.reads == set() and e.deferred_reads["f"] == {"offset"}


def test_ipython_syntax():
    # what IPython's transformer makes of %time / %%time: the timed code is analysed
    e = analyze_source("get_ipython().run_line_magic('time', 'z = w + 1')")
    assert e.reads == {"w"} and e.binds == {"z"}
    # the fallback for sources read from a notebook
    assert (
        python_source("%matplotlib inline\nfiles = !ls\nx = 1")
        == "pass\nfiles = get_ipython().getoutput('ls')\nx = 1"
    )
    e = analyze_source("%%time\ny = x * 2")
    assert e.reads == {"x"} and e.binds == {"y"}
    assert analyze_source("%%bash\necho hi").binds == set()
    # shell escapes: redirections are file writes and reads
    assert analyze_source("%%bash\necho hi > out.txt").binds == {"<file:out.txt>"}
    assert analyze_source("!sort < in.txt > out.txt").reads == {"<file:in.txt>"}


def test_public_names_stay_importable_from_the_names_module():
    # the analysis lives in a package of small modules; callers (recording, analysis, the
    # kernel recorder) import from core.provenance.names
    from jupyter_mlinfra.core.provenance import names

    for public in (
        "BUILTIN_NAMES",
        "CONVENTIONAL_MODULES",
        "MUTATING_FUNCTIONS",
        "MUTATING_METHODS",
        "PURE_FUNCTIONS",
        "PURE_METHODS",
        "RNG_LIBS",
        "CallEffects",
        "CellEffects",
        "analyze_source",
        "call_effects",
        "file_effects",
        "file_path",
        "is_pseudo_name",
        "module_level_binds",
        "pseudo_label",
        "python_source",
        "rng_name",
    ):
        assert hasattr(names, public), public
    assert names.module_level_binds("import numpy as np\nx = np.zeros(3)") == {"np", "x"}
    assert names.pseudo_label(names.rng_name("random")) == "Python's global random state"
    # a shell escape's redirections and its file-writing commands
    e = names.analyze_source("!curl -o data.csv https://x >> log.txt")
    assert e.mutates == {"<file:log.txt>"} and e.unfollowed == ["!curl"]
