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
  ``fit``...), calls with ``inplace=True``, functions that mutate their first argument
  (``random.shuffle``, ``heapq.heappush``...), subscript and attribute assignment or deletion,
  and augmented assignment (``x += ...`` mutates lists in place and rebinds numbers, so it counts
  as both).

Names of builtins are not reported as reads (unless the cell bound them itself earlier).
IPython syntax (``%magic``, ``!cmd``, ``%%cell_magic``) should be transformed to Python first
(the kernel recorder uses IPython's own transformer); :func:`python_source` is a small fallback
for sources read from a notebook.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

BUILTIN_NAMES = frozenset(dir(builtins))

# Method names that change their receiver in place (lists, dicts, sets, files, pandas,
# scikit-learn estimators, torch modules...). Calls of other methods are treated as reads.
MUTATING_METHODS = frozenset("""
append extend insert remove pop clear sort reverse update setdefault popitem add discard
difference_update intersection_update symmetric_difference_update appendleft extendleft
popleft rotate fit partial_fit fit_transform set_params set_output train step zero_grad
load_state_dict register_buffer write writelines seek truncate close flush put put_nowait
send set_index_inplace fillna_ dropna_ rename_axis_ setflags resize itemset fill put_along_axis
sort_values_ __setitem__ __delitem__ __iadd__ setattr add_ sub_ mul_ div_ copy_ requires_grad_
""".split())

# Functions that mutate their first argument: ``random.shuffle(x)``, ``heapq.heappush(h, 1)``.
MUTATING_FUNCTIONS = frozenset("""
shuffle heappush heappop heapify heapreplace heappushpop insort insort_left insort_right
setattr delattr copyto place putmask
""".split())

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class CellEffects:
    """What one execution of a cell does to the global namespace (statically)."""

    reads: set[str] = field(default_factory=set)
    binds: set[str] = field(default_factory=set)
    mutates: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)  # global names called (f(...))
    # name bound to a function/class/lambda -> globals its body reads / mutates / assigns
    deferred_reads: dict[str, set[str]] = field(default_factory=dict)
    deferred_mutates: dict[str, set[str]] = field(default_factory=dict)
    deferred_binds: dict[str, set[str]] = field(default_factory=dict)
    syntax_error: bool = False


# -- IPython syntax fallback ---------------------------------------------------------------
_CELL_MAGIC_BODY_IS_PYTHON = {"time", "timeit", "capture", "prun", "debug"}
_LINE_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w, ]*)=\s*[%!].*$")


def python_source(source: str) -> str:
    """Best-effort Python from an IPython cell: line magics and shell escapes become ``pass``
    (``x = !ls`` keeps its assignment), a cell magic whose body is Python keeps the body."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        name = lines[0].lstrip()[2:].split(None, 1)[0] if lines[0].strip() != "%%" else ""
        if name not in _CELL_MAGIC_BODY_IS_PYTHON:
            return "pass"
        lines = lines[1:]
    out = []
    for line in lines:
        m = _ASSIGN_MAGIC.match(line)
        if m:
            out.append(f"{m.group(1)}{m.group(2).strip()} = None")
            continue
        m = _LINE_MAGIC.match(line)
        if m:
            out.append(f"{m.group(1)}pass")
            continue
        if line.rstrip().endswith("?") and not line.lstrip().startswith("#"):
            out.append("pass")  # help syntax: obj?
            continue
        out.append(line)
    return "\n".join(out)


def _parse(source: str) -> ast.Module:
    # top-level ``await`` is valid in a notebook cell
    return compile(source, "<cell>", "exec",
                   flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def analyze_source(source: str) -> CellEffects:
    """Analyse a cell's Python source (IPython syntax is cleaned up first if needed)."""
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError):
        try:
            tree = _parse(python_source(source))
        except (SyntaxError, ValueError):
            return CellEffects(syntax_error=True)
    analyzer = _ModuleAnalyzer()
    for stmt in tree.body:
        analyzer.visit(stmt)
    return analyzer.effects


def module_level_binds(source: str) -> set[str]:
    """Names a cell binds at module level (used to tell hidden state from notebook state)."""
    return analyze_source(source).binds


# -- helpers ---------------------------------------------------------------------------------
def _root_name(node: ast.AST) -> str | None:
    """``a`` for ``a``, ``a.b.c``, ``a[0].b``, ``a.b[1]``; None for anything else."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _arg_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return names


def _enclosing_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a scope node evaluated in the enclosing scope."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts = list(node.decorator_list) + list(node.args.defaults)
        parts += [d for d in node.args.kw_defaults if d is not None]
        return parts
    if isinstance(node, ast.Lambda):
        return list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]
    if isinstance(node, ast.ClassDef):
        return list(node.decorator_list) + list(node.bases) + [k.value for k in node.keywords]
    if isinstance(node, _COMPREHENSIONS):
        return [node.generators[0].iter]
    return []


def _mutation_target(call: ast.Call) -> str | None:
    """The global name a call mutates in place, if it looks like a mutation."""
    func = call.func
    if isinstance(func, ast.Attribute):
        if func.attr in MUTATING_METHODS or any(
                k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in call.keywords):
            root = _root_name(func.value)
            if root is not None:
                return root
        name = func.attr
    elif isinstance(func, ast.Name):
        name = func.id
    else:
        return None
    if name in MUTATING_FUNCTIONS and call.args:
        return _root_name(call.args[0])
    return None


@dataclass
class _ScopeInfo:
    free: set[str]            # names read that are not local to the scope
    mutated: set[str]         # free names mutated in place inside the scope
    global_writes: set[str]   # names declared ``global`` and assigned


def _scope_info(node: ast.AST) -> _ScopeInfo:
    """Free names of a function, lambda, class body or comprehension (nested scopes included)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        params, body = _arg_names(node.args), list(node.body)
        body += [a.annotation for a in node.args.args if a.annotation is not None]
    elif isinstance(node, ast.Lambda):
        params, body = _arg_names(node.args), [node.body]
    elif isinstance(node, ast.ClassDef):
        params, body = set(), list(node.body)
    else:  # comprehension
        params = set()
        for gen in node.generators:
            params |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        body = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for i, gen in enumerate(node.generators):
            if i:
                body.append(gen.iter)
            body.extend(gen.ifs)
    return _free_in(body, params)


def _free_in(body: list[ast.AST], params: set[str]) -> _ScopeInfo:
    local = set(params)
    declared_global: set[str] = set()
    loads: set[str] = set()
    mutated: set[str] = set()
    nested: list[ast.AST] = []
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            nested.append(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(node.name)
            stack.extend(_enclosing_parts(node))
            continue
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            local.update(node.names)  # bound in an enclosing function, not a global
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loads.add(node.id)
            else:
                local.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    local.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            local.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            local.add(node.name)
        elif isinstance(node, ast.Call):
            target = _mutation_target(node)
            if target:
                mutated.add(target)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, (ast.Subscript, ast.Attribute)):
                        root = _root_name(sub)
                        if root:
                            mutated.add(root)
                    if isinstance(node, ast.AugAssign) and isinstance(sub, ast.Name):
                        loads.add(sub.id)
        stack.extend(ast.iter_child_nodes(node))
    local -= declared_global
    free = {n for n in loads if n not in local}
    mutated = {n for n in mutated if n not in local}
    global_writes = set(declared_global)
    for inner in nested:
        info = _scope_info(inner)
        free |= {n for n in info.free if n not in local}
        mutated |= {n for n in info.mutated if n not in local}
        global_writes |= info.global_writes
    return _ScopeInfo(free=free - BUILTIN_NAMES | (free & declared_global),
                      mutated=mutated, global_writes=global_writes)


class _ModuleAnalyzer(ast.NodeVisitor):
    """Visits module-level statements in evaluation order."""

    def __init__(self) -> None:
        self.effects = CellEffects()
        self._bound_here: set[str] = set()
        self._pending: _ScopeInfo | None = None  # a lambda's deferred effects, for its target

    # -- primitive effects --------------------------------------------------------------------
    def _read(self, name: str) -> None:
        if name in self._bound_here:
            return
        if name in BUILTIN_NAMES:
            return
        self.effects.reads.add(name)

    def _bind(self, name: str) -> None:
        self.effects.binds.add(name)
        self.effects.deletes.discard(name)
        self._bound_here.add(name)

    def _mutate(self, name: str) -> None:
        self._read(name)
        self.effects.mutates.add(name)

    def _defer(self, name: str, info: _ScopeInfo) -> None:
        self.effects.deferred_reads[name] = set(info.free)
        if info.mutated:
            self.effects.deferred_mutates[name] = set(info.mutated)
        if info.global_writes:
            self.effects.deferred_binds[name] = set(info.global_writes)

    def _target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id)
            if self._pending is not None:
                self._defer(target.id, self._pending)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._target(elt)
        elif isinstance(target, ast.Starred):
            self._target(target.value)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            inner = target.value
            while isinstance(inner, (ast.Attribute, ast.Subscript)):
                if isinstance(inner, ast.Subscript):
                    self.visit(inner.slice)
                inner = inner.value
            root = _root_name(target)
            if root:
                self._mutate(root)
            else:
                self.visit(inner)

    # -- statements ------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self._pending = _scope_info(node.value) if isinstance(node.value, ast.Lambda) else None
        self.visit(node.value)
        for target in node.targets:
            self._target(target)
        self._pending = None

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target)
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            name = node.target.id
            self._read(name)
            self._bind(name)
            self.effects.mutates.add(name)
        else:
            self._target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.effects.deletes.add(target.id)
                self.effects.binds.discard(target.id)
                self._bound_here.discard(target.id)
            elif isinstance(target, (ast.Tuple, ast.List)):
                self.visit_Delete(ast.Delete(targets=target.elts))
            else:
                self._target(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":  # star imports are caught by the namespace diff
                self._bind(alias.asname or alias.name)

    def _visit_def(self, node) -> None:
        for part in _enclosing_parts(node):
            self.visit(part)
        if node.returns is not None:
            self.visit(node.returns)
        self._defer(node.name, _scope_info(node))
        self._bind(node.name)

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for part in _enclosing_parts(node):
            self.visit(part)
        # The class body runs now; its methods' bodies run later.
        methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        others = [s for s in node.body if s not in methods]
        body = _free_in(others, set())
        for name in body.free:
            self._read(name)
        for name in body.mutated:
            self._mutate(name)
        deferred = _ScopeInfo(free=set(), mutated=set(), global_writes=set())
        for method in methods:
            for part in _enclosing_parts(method):
                self.visit(part)
            info = _scope_info(method)
            deferred.free |= info.free
            deferred.mutated |= info.mutated
            deferred.global_writes |= info.global_writes
        self._defer(node.name, deferred)
        self._bind(node.name)

    def visit_For(self, node) -> None:
        self.visit(node.iter)
        self._target(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_With(self, node) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for stmt in node.body:
            self.visit(stmt)
        if node.name:  # Python deletes the name at the end of the handler
            self.effects.binds.discard(node.name)
            self._bound_here.discard(node.name)

    def visit_Global(self, node: ast.Global) -> None:
        return

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    # -- expressions -------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id)
        else:
            self.effects.deletes.add(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._target(node.target)

    def _inline_magic(self, node: ast.Call) -> bool:
        """``get_ipython().run_line_magic('time', 'x = f()')`` (what IPython makes of
        ``%time x = f()``): analyse the code the magic runs."""
        func = node.func
        if not (isinstance(func, ast.Attribute)
                and func.attr in ("run_line_magic", "run_cell_magic")
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
                and func.value.func.id == "get_ipython" and node.args
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                        for a in node.args)):
            return False
        name = node.args[0].value
        if name not in _CELL_MAGIC_BODY_IS_PYTHON:
            return True
        code = node.args[-1].value
        if name == "timeit" or (name == "time" and func.attr == "run_line_magic"):
            code = re.sub(r"^\s*(-\w+(\s+\d+)?\s+)*", "", code) if name == "timeit" else code
        try:
            inner = ast.parse(code)
        except SyntaxError:
            return True
        for stmt in inner.body:
            self.visit(stmt)
        return True

    def visit_Call(self, node: ast.Call) -> None:
        if self._inline_magic(node):
            return
        self.generic_visit(node)
        if isinstance(node.func, ast.Name):
            self.effects.calls.add(node.func.id)
        target = _mutation_target(node)
        if target:
            self._mutate(target)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for part in _enclosing_parts(node):
            self.visit(part)
        # The body runs later; when the lambda is assigned, _target defers its reads.
        if self._pending is None:
            for name in _scope_info(node).free:
                self._read(name)

    def _visit_comprehension(self, node) -> None:
        self.visit(node.generators[0].iter)
        info = _scope_info(node)
        for name in info.free:
            self._read(name)
        for name in info.mutated:
            self._mutate(name)
        # Walrus targets inside a comprehension bind in the enclosing (module) scope.
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self._bind(sub.target.id)

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_DictComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
