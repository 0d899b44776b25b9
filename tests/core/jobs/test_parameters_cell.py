"""A parameters cell papermill cannot parse: ``-p`` values are refused with the reason, not
as "unknown parameter ... defines: none"."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.errors import InvalidInput

from .notebooks import write


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("a, b = 1, 2", "line 1 'a, b = 1, 2' assigns a, b in a way papermill does not parse"),
        ("x = 1\na = b = 2", "Unable to parse line 2 'a = b = 2'"),
        ("x = 1\n%time y = 2", "line 2 is not valid Python"),
    ],
)
def test_values_for_an_unparsed_cell_are_refused_with_the_reason(jobs, nb_root, cell, reason):
    write(nb_root / "odd.ipynb", cell, "print(a)")
    with pytest.raises(InvalidInput, match="papermill cannot parse its parameters cell") as err:
        jobs.submit("odd.ipynb", parameters={"a": "5"})  # as `-p a 5` gives it
    assert reason in err.value.message
    assert jobs.list_runs()["total"] == 0


def test_parsed_names_of_a_partly_parsed_cell_still_go_through(jobs, nb_root):
    write(nb_root / "odd.ipynb", "x = 1\na, b = 1, 2", "print(x)")
    assert jobs.submit("odd.ipynb", parameters={"x": "5"})["parameters"] == {"x": 5}
    described = jobs.notebook_parameters("odd.ipynb")
    assert [p["name"] for p in described["parameters"]] == ["x"]


def test_a_kernel_papermill_has_no_translator_for(jobs, nb_root):
    write(nb_root / "other.ipynb", "x = 1", "print(x)", kernel="no-such-kernel")
    nb = nb_root / "other.ipynb"
    import nbformat

    doc = nbformat.read(nb, as_version=4)
    doc.metadata["kernelspec"]["language"] = "cobol"
    nbformat.write(doc, nb)
    with pytest.raises(InvalidInput, match="No parameter translator"):
        jobs.submit("other.ipynb", parameters={"x": "5"})
