"""The run tokens the central service signs for its job kernels: see
:mod:`jupyter_mlinfra.core.jobs.run_tokens` (the scheduler's workers issue them, the
service's identity providers accept them)."""

from __future__ import annotations

from ..core.jobs.run_tokens import PREFIX, RunTokens

__all__ = ["PREFIX", "RunTokens"]
