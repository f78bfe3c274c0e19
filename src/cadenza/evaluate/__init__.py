"""Metrics: pure functions of scores (and later audio), each with its formula and a reference."""

from cadenza.evaluate.key import estimate_key
from cadenza.evaluate.set_compare import compare_sets
from cadenza.evaluate.symbolic import MUSPY_METRICS, analyze, muspy_metrics

__all__ = ["MUSPY_METRICS", "analyze", "compare_sets", "estimate_key", "muspy_metrics"]
