"""The module analyzer: visits a cell's module-level statements in evaluation order and sums up
what they do to the global namespace as :class:`CellEffects`.

Calls are classified by calls.py and files.py, function/lambda/class/comprehension bodies by
scopes.py, IPython calls (``%time``, ``!cmd``) by ipython.py.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from .calls import call_effects
from .files import file_effects
from .ipython import inline_magic, shell_effects
from .nodes import root_name
from .pseudo import rng_name
from .scopes import ScopeInfo, enclosing_parts, free_in, scope_info
from .vocabulary import BUILTIN_NAMES

_NS_FUNCS = frozenset({"globals", "vars", "locals"})


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
    deferred_unfollowed: dict[str, list[str]] = field(default_factory=dict)
    # names whose mutation is assumed (passed to a call not known to be pure); also in mutates
    assumed: set[str] = field(default_factory=set)
    # names passed to a pure call or iterated over: mutated only if they hold an iterator
    consumed: set[str] = field(default_factory=set)
    # names mutated through a path (``d["a"].append(1)``, ``obj.items[0] = 2``) or by an unknown
    # call: what their objects hold may have changed too
    deep: set[str] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)  # name -> dotted module path
    star_imports: set[str] = field(default_factory=set)  # modules of ``from m import *``
    unfollowed: list[str] = field(default_factory=list)  # code whose effects are unknown
    syntax_error: bool = False


def _ns_call(node: ast.AST) -> bool:
    """``globals()`` / ``vars()`` / ``locals()`` (the module namespace at module level)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _NS_FUNCS
        and not node.args
        and not node.keywords
    )


def _literal_key(node: ast.Subscript) -> str | None:
    key = node.slice
    if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isidentifier():
        return key.value
    return None


class ModuleAnalyzer(ast.NodeVisitor):
    """Visits module-level statements in evaluation order."""

    def __init__(self, modules: dict[str, str] | None = None) -> None:
        self.effects = CellEffects()
        self.modules: dict[str, str] = dict(modules or {})
        self._bound_here: set[str] = set()
        self._pending: ScopeInfo | None = None  # a lambda's deferred effects, for its target

    # -- primitive effects --------------------------------------------------------------------
    def _read(self, name: str) -> None:
        if name in self._bound_here:
            return
        if name in BUILTIN_NAMES:
            return
        self.effects.reads.add(name)

    def _bind(self, name: str, module: str | None = None) -> None:
        self.effects.binds.add(name)
        self.effects.deletes.discard(name)
        self._bound_here.add(name)
        if module is not None:
            self.modules[name] = self.effects.imports[name] = module
        else:
            self.modules.pop(name, None)
            self.effects.imports.pop(name, None)

    def _mutate(self, name: str) -> None:
        self._read(name)
        self.effects.mutates.add(name)

    def _defer(self, name: str, info: ScopeInfo) -> None:
        self.effects.deferred_reads[name] = set(info.free)
        if info.unfollowed:
            self.effects.deferred_unfollowed[name] = list(info.unfollowed)
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
        elif isinstance(target, ast.Subscript) and _ns_call(target.value) and _literal_key(target):
            self._bind(cast(str, _literal_key(target)))  # globals()["name"] = value
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            inner = target.value
            while isinstance(inner, (ast.Attribute, ast.Subscript)):
                if isinstance(inner, ast.Subscript):
                    self.visit(inner.slice)
                inner = inner.value
            root = root_name(target)
            if root:
                self._mutate(root)
                if not isinstance(target.value, ast.Name):  # d["a"][0] = 1, obj.x.y = 2
                    self.effects.deep.add(root)
            else:
                self.visit(inner)

    # -- statements ------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self._pending = (
            scope_info(node.value, self.modules) if isinstance(node.value, ast.Lambda) else None
        )
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
            if alias.asname:
                self._bind(alias.asname, alias.name)
            else:
                top = alias.name.split(".")[0]
                self._bind(top, top)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":  # the names are caught by the namespace diff
                self.effects.star_imports.add(module)
            else:
                qual = f"{module}.{alias.name}" if module and not node.level else None
                self._bind(alias.asname or alias.name, qual)

    def _visit_def(self, node) -> None:
        for part in enclosing_parts(node):
            self.visit(part)
        if node.returns is not None:
            self.visit(node.returns)
        self._defer(node.name, scope_info(node, self.modules))
        self._bind(node.name)

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for part in enclosing_parts(node):
            self.visit(part)
        # The class body runs now; its methods' bodies run later.
        methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        others = [s for s in node.body if s not in methods]
        body = free_in(others, set(), self.modules)
        for name in body.free:
            self._read(name)
        for name in body.mutated:
            self._mutate(name)
        deferred = ScopeInfo(free=set(), mutated=set(), global_writes=set())
        for method in methods:
            for part in enclosing_parts(method):
                self.visit(part)
            info = scope_info(method, self.modules)
            deferred.unfollowed += info.unfollowed
            deferred.free |= info.free
            deferred.mutated |= info.mutated
            deferred.global_writes |= info.global_writes
        self._defer(node.name, deferred)
        self._bind(node.name)

    def visit_For(self, node) -> None:
        self.visit(node.iter)
        if isinstance(node.iter, ast.Name):  # iterating consumes an iterator
            self.effects.consumed.add(node.iter.id)
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
        """An IPython call (``%time x = f()``, ``!cmd``...): analyse what it runs instead."""
        magic = inline_magic(node)
        if magic is None:
            return False
        if magic.unfollowed:
            self.effects.unfollowed.append(magic.unfollowed)
        if magic.shell is not None:
            self._shell(magic.shell)
        if magic.python is not None:
            try:
                inner = ast.parse(magic.python)
            except SyntaxError:
                return True
            for stmt in inner.body:
                self.visit(stmt)
        return True

    def _shell(self, command: str) -> None:
        apply: dict[str, Callable[[str], None]] = {
            "bind": self._bind,
            "mutate": self._mutate,
            "read": self._read,
            "unfollowed": self.effects.unfollowed.append,
        }
        for kind, name in shell_effects(command):
            apply[kind](name)

    def visit_Call(self, node: ast.Call) -> None:
        if self._inline_magic(node):
            return
        self.generic_visit(node)
        if isinstance(node.func, ast.Name):
            self.effects.calls.add(node.func.id)
        fx = call_effects(node, self.modules)
        for name in fx.mutates:
            self._mutate(name)
        for name in fx.assumed - fx.mutates:
            self._mutate(name)
            self.effects.assumed.add(name)
        self.effects.deep |= (fx.deep & (fx.mutates | fx.assumed)) | fx.assumed
        self.effects.consumed |= fx.consumed
        for lib in fx.draws:
            self._mutate(rng_name(lib))
        for lib in fx.seeds:
            self._bind(rng_name(lib))
        if fx.unfollowed:
            self.effects.unfollowed.append(fx.unfollowed)
        reads, writes, appends = file_effects(node, self.modules)
        for name in reads:
            self._read(name)
        for name in appends:
            self._mutate(name)
        for name in writes:
            self._bind(name)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load) and _ns_call(node.value) and _literal_key(node):
            self._read(cast(str, _literal_key(node)))  # globals()["name"]
            return
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        # "name" in globals(): a read of the name, not code the analysis cannot follow
        if (
            len(node.ops) == 1
            and isinstance(node.ops[0], (ast.In, ast.NotIn))
            and _ns_call(node.comparators[0])
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            self._read(node.left.value)
            return
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for part in enclosing_parts(node):
            self.visit(part)
        # The body runs later; when the lambda is assigned, _target defers its reads.
        if self._pending is None:
            for name in scope_info(node, self.modules).free:
                self._read(name)

    def _visit_comprehension(self, node) -> None:
        self.visit(node.generators[0].iter)
        if isinstance(node.generators[0].iter, ast.Name):
            self.effects.consumed.add(node.generators[0].iter.id)
        info = scope_info(node, self.modules)
        self.effects.unfollowed += info.unfollowed
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
