"""Small readers of ``ast`` nodes shared by the analysis of calls, files and scopes."""

from __future__ import annotations

import ast


def root_name(node: ast.AST) -> str | None:
    """``a`` for ``a``, ``a.b.c``, ``a[0].b``, ``a.b[1]``; None for anything else."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def chain(node: ast.AST) -> list[str] | None:
    """``["np", "random", "seed"]`` for ``np.random.seed``; None unless a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def qualified(parts: list[str], modules: dict[str, str]) -> str | None:
    """The dotted path a name chain reaches through an imported module (``np.random.seed`` ->
    ``numpy.random.seed`` when ``np`` is numpy), else None."""
    root = parts[0]
    return ".".join([modules[root], *parts[1:]]) if root in modules else None


def argument(call: ast.Call, index: int, *names: str) -> ast.AST | None:
    """A call's argument by position (unless a ``*args`` comes first) or by keyword."""
    if len(call.args) > index and not any(
        isinstance(a, ast.Starred) for a in call.args[: index + 1]
    ):
        return call.args[index]
    for k in call.keywords:
        if k.arg in names:
            return k.value
    return None
