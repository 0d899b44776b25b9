"""Static analysis of one cell: the global names it reads, binds, mutates and deletes.

Plain ``ast``, scope-aware:

- module-level statements are visited in evaluation order, so ``x = 1; print(x)`` reads no
  outside ``x`` while ``y = x; x = 2`` does;
- function parameters, comprehension variables, lambda arguments and class-body names are local
  to their scope and never count as reads of same-named globals;
- the body of a ``def`` (or lambda, or a method of a class) does not run when it is defined: the
  globals it reads, mutates or assigns (``global x``) are kept as *deferred* effects of the name
  it binds, and become effects of the cells that later use that name;
- in-place mutation is recognised from method calls known to mutate (``append``, ``update``,
  ``fit``...), calls with ``inplace=True`` or ``out=``, functions that mutate their first argument
  (``random.shuffle``, ``heapq.heappush``, ``np.fill_diagonal``, ``operator.setitem``...),
  subscript and attribute assignment or deletion, and augmented assignment (``x += ...`` mutates
  lists in place and rebinds numbers, so it counts as both);
- any other call that receives a name (as an argument, or as the object of a method call) *may*
  mutate it, unless the callee is known to be pure (``len``, ``print``, ``df.head``, ``np.mean``,
  ``.copy()``, ``.get``...): such names are in ``mutates`` and in ``assumed`` (a longer replay
  is acceptable, a wrong one is not). Calling a function of an imported module never changes the
  module itself;
- global random state is a pseudo-name per library (``<rng:random>``, ``<rng:numpy>``,
  ``<rng:torch>``, ``<rng:tensorflow>``): a seeding call binds it, a draw reads and mutates it,
  so a replay keeps the seeding cell and every earlier draw;
- files are pseudo-names too (``<file:data.csv>``): ``open(path, "w"/"r")``,
  ``Path.write_text/read_text``, pandas ``to_*/read_*``, numpy ``save/savez/load``,
  ``joblib.dump/load`` and ``torch.save/load`` with a literal path, or a name the kernel
  resolves (``<file?:name>``, see recording.py), bind (write), mutate (append) or read them;
- code whose effects cannot be followed statically (``exec``, ``eval``, ``globals()`` used other
  than with a literal key, ``%run``) is listed in ``unfollowed``.

Names of builtins are not reported as reads (unless the cell bound them itself earlier).
IPython syntax (``%magic``, ``!cmd``, ``%%cell_magic``) should be transformed to Python first
(the kernel recorder uses IPython's own transformer); :func:`python_source` is a small fallback
for sources read from a notebook.

The analysis lives in small modules: vocabulary.py (which callees mutate what they receive),
pseudo.py (random-state and file pseudo-names), nodes.py (AST readers), calls.py (one call's
effects), files.py (files a call reads or writes), scopes.py (function, lambda, class and
comprehension bodies), ipython.py (magics and shell escapes) and analyzer.py (the module-level
visitor). Import the public names from here.
"""

from __future__ import annotations

import ast

from .analyzer import CellEffects, ModuleAnalyzer
from .calls import CallEffects, call_effects
from .files import file_effects
from .ipython import python_source
from .pseudo import RNG_LIBS, file_path, is_pseudo_name, pseudo_label, rng_name
from .vocabulary import (
    BUILTIN_NAMES,
    CONVENTIONAL_MODULES,
    MUTATING_FUNCTIONS,
    MUTATING_METHODS,
    PURE_FUNCTIONS,
    PURE_METHODS,
)

__all__ = [
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
]


def _parse(source: str) -> ast.Module:
    # top-level ``await`` is valid in a notebook cell
    return compile(
        source,
        "<cell>",
        "exec",
        flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )


def analyze_source(source: str, modules: dict[str, str] | None = None) -> CellEffects:
    """Analyse a cell's Python source (IPython syntax is cleaned up first if needed).

    ``modules``: the names earlier cells bound by imports (``{"np": "numpy"}``), so that calls
    such as ``np.random.seed(0)`` or ``np.mean(a)`` are recognised."""
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError):
        try:
            tree = _parse(python_source(source))
        except (SyntaxError, ValueError):
            return CellEffects(syntax_error=True)
    analyzer = ModuleAnalyzer(CONVENTIONAL_MODULES if modules is None else modules)
    for stmt in tree.body:
        analyzer.visit(stmt)
    return analyzer.effects


def module_level_binds(source: str) -> set[str]:
    """Names a cell binds at module level (used to tell hidden state from notebook state)."""
    return analyze_source(source).binds
