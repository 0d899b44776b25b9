"""What one call may do: mutate the names it receives (known or assumed), seed or draw from a
library's global random state, or run code the analysis cannot follow (``exec``, ``eval``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .nodes import chain, qualified, root_name
from .pseudo import RNG_LIBS
from .vocabulary import (
    MUTATING_FUNCTIONS,
    MUTATING_METHODS,
    PURE_FUNCTIONS,
    PURE_METHODS,
    UNFOLLOWED_CALLS,
)

_SEEDERS = {
    "random.seed": ("random",),
    "random.setstate": ("random",),
    "numpy.random.seed": ("numpy",),
    "numpy.random.set_state": ("numpy",),
    "torch.manual_seed": ("torch",),
    "torch.random.manual_seed": ("torch",),
    "torch.cuda.manual_seed": ("torch",),
    "torch.cuda.manual_seed_all": ("torch",),
    "torch.set_rng_state": ("torch",),
    "tensorflow.random.set_seed": ("tensorflow",),
    "tensorflow.set_random_seed": ("tensorflow",),
}
# Helpers that seed every library at once (transformers, lightning, keras, accelerate...).
_SEED_ALL = frozenset({"set_seed", "seed_everything", "set_random_seed"})
_NUMPY_RNG_OBJECTS = frozenset(
    {
        "default_rng",
        "Generator",
        "RandomState",
        "SeedSequence",
        "PCG64",
        "PCG64DXSM",
        "MT19937",
        "Philox",
        "SFC64",
        "BitGenerator",
        "get_state",
    }
)
_TORCH_DRAWS = frozenset(
    {
        "rand",
        "randn",
        "randint",
        "randperm",
        "rand_like",
        "randn_like",
        "randint_like",
        "normal",
        "bernoulli",
        "multinomial",
        "poisson",
        "dropout",
        "random_split",
    }
)
_FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit"})


@dataclass
class CallEffects:
    """What one call may do to the names it receives and to global random state."""

    mutates: set[str] = field(default_factory=set)  # known mutations
    assumed: set[str] = field(default_factory=set)  # possible mutations (unknown callee)
    consumed: set[str] = field(default_factory=set)  # mutated only if they hold an iterator
    deep: set[str] = field(default_factory=set)  # mutated through a path (d["a"].append)
    seeds: tuple[str, ...] = ()  # libraries whose global RNG it seeds
    draws: tuple[str, ...] = ()  # libraries whose global RNG it draws from
    unfollowed: str | None = None


def _rng_effect(
    qual: str | None, last: str, call: ast.Call, modules: dict[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(libraries whose global random state the call seeds, libraries it draws from)."""
    if qual is not None:
        if qual in _SEEDERS:
            return _SEEDERS[qual], ()
        if last in _SEED_ALL:
            return RNG_LIBS, ()
        if qual.startswith("random.") and last not in ("Random", "SystemRandom"):
            return (), ("random",)
        if qual.startswith("numpy.random.") and last not in _NUMPY_RNG_OBJECTS:
            return (), ("numpy",)
        if qual.startswith("torch.") and (last in _TORCH_DRAWS or qual.startswith("torch.nn.")):
            return (), ("torch",)
        if qual.startswith(("tensorflow.random.", "tensorflow.keras.", "keras.")):
            return (), ("tensorflow",)
        if (
            qual.startswith("sklearn.")
            and not last[:1].isupper()
            and not any(k.arg == "random_state" for k in call.keywords)
        ):
            return (), ("numpy",)  # random_state=None draws from numpy's global generator
        return (), ()
    if last in _SEED_ALL:
        return RNG_LIBS, ()
    if last in _FIT_METHODS and any(q.startswith("sklearn") for q in modules.values()):
        return (), ("numpy",)
    return (), ()


def _passed(call: ast.Call) -> list[str]:
    """Global names whose objects a call receives (directly, or inside a literal container)."""
    out = []
    values = list(call.args) + [k.value for k in call.keywords]
    while values:
        v = values.pop()
        if isinstance(v, (ast.List, ast.Tuple, ast.Set)):
            values.extend(v.elts)
            continue
        if isinstance(v, ast.Dict):
            values.extend(v.values)
            continue
        root = root_name(v)
        if root:
            out.append(root)
    return out


def _is_pure(name: str) -> bool:
    return name in PURE_FUNCTIONS or name[:1].isupper()  # constructors keep their arguments


def _method_effects(
    fx: CallEffects, root: str | None, last: str, call: ast.Call, passed: list[str], inplace: bool
) -> None:
    """A method called on an object (``root`` is the name it is reached from, if any)."""
    if last in MUTATING_METHODS or inplace:
        if root:
            fx.mutates.add(root)
    elif last in PURE_METHODS:
        fx.consumed.update(passed)
    elif last in MUTATING_FUNCTIONS and call.args:  # rng.shuffle(x), ufunc.at(a, ...)
        first = root_name(call.args[0])
        if first:
            fx.mutates.add(first)
        if root:
            fx.assumed.add(root)
    else:
        if root:
            fx.assumed.add(root)
        fx.assumed.update(passed)


def call_effects(call: ast.Call, modules: dict[str, str]) -> CallEffects:
    """Classify a call: which received names it mutates (or may mutate), its effect on global
    random state, and whether it runs code the analysis cannot follow."""
    fx = CallEffects()
    func = call.func
    passed = _passed(call)
    inplace = False
    for k in call.keywords:
        if k.arg == "out":
            for v in k.value.elts if isinstance(k.value, ast.Tuple) else [k.value]:
                root = root_name(v)
                if root:
                    fx.mutates.add(root)
        elif k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True:
            inplace = True
    parts = chain(func)
    if parts is None:
        if isinstance(func, ast.Attribute):  # df[cols].fillna(..., inplace=True), f().m(x)
            fx.seeds, fx.draws = _rng_effect(None, func.attr, call, modules)
            root = root_name(func.value)
            _method_effects(fx, root, func.attr, call, passed, inplace)
            if root:
                fx.deep.add(root)
        else:  # fs[0](x), make()(x): the callee is unknown
            fx.assumed.update(passed)
        return fx
    root, last = parts[0], parts[-1]
    qual = qualified(parts, modules)
    fx.seeds, fx.draws = _rng_effect(qual, last, call, modules)
    if len(parts) == 1:  # f(x)
        if qual is None and last in UNFOLLOWED_CALLS:
            fx.unfollowed = f"{last}()"
            fx.assumed.update(passed)
        elif last in MUTATING_FUNCTIONS and call.args:
            first = root_name(call.args[0])
            if first:
                fx.mutates.add(first)
            fx.consumed.update(p for p in passed if p != first)
        elif _is_pure(last):
            fx.consumed.update(passed)
        else:
            fx.assumed.update(passed)
        return fx
    if root in modules:  # a function of an imported module (or a method of an imported object)
        if last in MUTATING_FUNCTIONS and call.args:
            first = root_name(call.args[0])
            if first:
                fx.mutates.add(first)
        elif _is_pure(last) or last in PURE_METHODS:
            fx.consumed.update(passed)
        elif last in MUTATING_METHODS or inplace:
            fx.mutates.add(root)
        else:
            fx.assumed.update(passed)
        return fx
    _method_effects(fx, root, last, call, passed, inplace)
    if len(parts) > 2:  # obj.items.append(x)
        fx.deep.add(root)
    return fx
