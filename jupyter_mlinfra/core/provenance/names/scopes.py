"""Scopes whose bodies do not run at module level: functions, lambdas, class bodies and
comprehensions. Their parameters and local names never count as reads of same-named globals;
what they read, mutate or assign globally (``global x``) is summed up as a :class:`ScopeInfo`,
which the module analyzer keeps as the *deferred* effects of the name the scope is bound to.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .calls import call_effects
from .files import file_effects
from .nodes import root_name
from .pseudo import rng_name
from .vocabulary import BUILTIN_NAMES

_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class ScopeInfo:
    free: set[str]  # names read that are not local to the scope
    mutated: set[str]  # free names mutated in place inside the scope
    global_writes: set[str]  # names declared ``global`` and assigned
    unfollowed: list[str] = field(default_factory=list)


def _arg_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return names


def enclosing_parts(node: ast.AST) -> Sequence[ast.AST]:
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


def scope_info(node: ast.AST, modules: dict[str, str] | None = None) -> ScopeInfo:
    """Free names of a function, lambda, class body or comprehension (nested scopes included)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        params = _arg_names(node.args)
        body: list[ast.AST] = list(node.body)
        body += [a.annotation for a in node.args.args if a.annotation is not None]
    elif isinstance(node, ast.Lambda):
        params, body = _arg_names(node.args), [node.body]
    elif isinstance(node, ast.ClassDef):
        params, body = set(), list(node.body)
    else:  # comprehension
        comp: Any = node  # ListComp, SetComp, GeneratorExp or DictComp
        params = set()
        for gen in comp.generators:
            params |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        body = [comp.key, comp.value] if isinstance(comp, ast.DictComp) else [comp.elt]
        for i, gen in enumerate(comp.generators):
            if i:
                body.append(gen.iter)
            body.extend(gen.ifs)
    return free_in(body, params, modules)


def free_in(
    body: Sequence[ast.AST], params: set[str], modules: dict[str, str] | None = None
) -> ScopeInfo:
    modules = modules or {}
    local = set(params)
    declared_global: set[str] = set()
    loads: set[str] = set()
    mutated: set[str] = set()
    unfollowed: list[str] = []
    nested: list[ast.AST] = []
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            nested.append(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(node.name)
            stack.extend(enclosing_parts(node))
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
            fx = call_effects(node, modules)
            mutated |= fx.mutates | fx.assumed
            for lib in fx.seeds + fx.draws:
                loads.add(rng_name(lib))
                mutated.add(rng_name(lib))
            if fx.unfollowed:
                unfollowed.append(fx.unfollowed)
            reads, writes, appends = file_effects(node, modules)
            loads.update(reads + appends)
            mutated.update(writes + appends)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, (ast.Subscript, ast.Attribute)):
                        root = root_name(sub)
                        if root:
                            mutated.add(root)
                    if isinstance(node, ast.AugAssign) and isinstance(sub, ast.Name):
                        loads.add(sub.id)
        stack.extend(ast.iter_child_nodes(node))
    local -= declared_global

    def outside(name: str) -> bool:  # a global, or a file whose path is not a local name
        if name.startswith("<file?:"):
            return name[7:].split("|", 1)[0] not in local
        return name not in local

    free = {n for n in loads if outside(n)}
    mutated = {n for n in mutated if outside(n)}
    global_writes = set(declared_global)
    for inner in nested:
        info = scope_info(inner, modules)
        free |= {n for n in info.free if n not in local}
        mutated |= {n for n in info.mutated if n not in local}
        global_writes |= info.global_writes
        unfollowed += info.unfollowed
    return ScopeInfo(
        free=free - BUILTIN_NAMES | (free & declared_global),
        mutated=mutated,
        global_writes=global_writes,
        unfollowed=unfollowed,
    )
