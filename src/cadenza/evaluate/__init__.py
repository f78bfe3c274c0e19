"""Metrics: pure functions of scores (and later audio), each with its formula and a reference.

The submodules load on first use, so that importing a light part of cadenza does not pull in scipy."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadenza.evaluate.key import estimate_key
    from cadenza.evaluate.set_compare import compare_sets
    from cadenza.evaluate.symbolic import MUSPY_METRICS, analyze, muspy_metrics

_LAZY = {"estimate_key": "cadenza.evaluate.key", "compare_sets": "cadenza.evaluate.set_compare",
         "MUSPY_METRICS": "cadenza.evaluate.symbolic", "analyze": "cadenza.evaluate.symbolic",
         "muspy_metrics": "cadenza.evaluate.symbolic"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cadenza.evaluate' has no attribute {name!r}")


__all__ = ["MUSPY_METRICS", "analyze", "compare_sets", "estimate_key", "muspy_metrics"]
