"""One way for every benchmark to state a target: the figure, the target, met or the gap."""

from __future__ import annotations


def verdict(value: float, target: float, unit: str = "", *, at_least: bool = False) -> str:
    """``"(target <= 0.5 ms): met"`` or ``"(target <= 0.5 ms): NOT met, 0.12 ms over"``."""
    sign = ">=" if at_least else "<="
    met = value >= target if at_least else value <= target
    head = f"(target {sign} {target:g}{unit})"
    if met:
        return f"{head}: met"
    gap = target - value if at_least else value - target
    return f"{head}: NOT met, {gap:.3g}{unit} {'short' if at_least else 'over'}"
