"""Set-level comparison of generated music with a corpus (Yang & Lerch 2020).

L.-C. Yang and A. Lerch, "On the evaluation of generative models in music", Neural Computing and
Applications 32, 2020. https://doi.org/10.1007/s00521-018-3849-7

For every feature, pairwise distances within the reference set (intra) and between the two sets (inter)
are smoothed by Gaussian kernel density estimation; the overlapping area (OA, 1 = indistinguishable) and
the Kullback-Leibler divergence KL(intra || inter) (0 = indistinguishable) summarize how far the
generated set is from the style of the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import gaussian_kde

from cadenza.core.score import Score
from cadenza.evaluate.symbolic import melodic_intervals, n_pitches_used, pitch_class_histogram, pitch_range


def _notes(score: Score) -> list:
    return [n for p in score.parts if not p.is_drum for n in p.notes]


def pitch_count(score: Score) -> np.ndarray:
    return np.array([n_pitches_used(score)], dtype=float)


def pc_histogram(score: Score) -> np.ndarray:
    h = pitch_class_histogram(score)
    return h / max(h.sum(), 1)


def pc_transition_matrix(score: Score) -> np.ndarray:
    """12x12 transition counts of successive pitch classes in each line, normalized, flattened [144]."""
    m = np.zeros((12, 12))
    for p in score.parts:
        if p.is_drum:
            continue
        line = [n.pitch % 12 for n in p.notes]
        for a, b in zip(line, line[1:]):
            m[a, b] += 1
    return (m / max(m.sum(), 1)).ravel()


def range_feature(score: Score) -> np.ndarray:
    return np.array([pitch_range(score)], dtype=float)


def mean_interval(score: Score) -> np.ndarray:
    iv = melodic_intervals(score)
    return np.array([np.mean(np.abs(iv)) if iv else 0.0])


def notes_per_bar(score: Score) -> np.ndarray:
    n_bars = max(1.0, score.end / score.time_signature.bar_length)
    return np.array([len(_notes(score)) / n_bars])


def mean_ioi(score: Score) -> np.ndarray:
    """Mean inter-onset interval (quarter lengths) of the distinct onsets."""
    onsets = sorted({n.onset for n in _notes(score)})
    return np.array([np.mean(np.diff(onsets)) if len(onsets) > 1 else 0.0])


NOTE_LENGTH_BINS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def note_length_histogram(score: Score) -> np.ndarray:
    """Share of notes whose duration is nearest to each of `NOTE_LENGTH_BINS` (quarter lengths)."""
    bins = np.array(NOTE_LENGTH_BINS)
    h = np.zeros(len(bins))
    for n in _notes(score):
        h[np.abs(bins - n.duration).argmin()] += 1
    return h / max(h.sum(), 1)


FEATURES: dict[str, Callable[[Score], np.ndarray]] = {
    "pitch_count": pitch_count,
    "pitch_class_histogram": pc_histogram,
    "pitch_class_transition_matrix": pc_transition_matrix,
    "pitch_range": range_feature,
    "mean_abs_interval": mean_interval,
    "notes_per_bar": notes_per_bar,
    "mean_ioi": mean_ioi,
    "note_length_histogram": note_length_histogram,
}


def _pairwise(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances: within `a` (upper triangle) or between every row of `a` and of `b`."""
    if b is None:
        d = np.linalg.norm(a[:, None, :] - a[None, :, :], axis=-1)
        return d[np.triu_indices(len(a), k=1)]
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).ravel()


def _kde(x: np.ndarray) -> gaussian_kde:
    if np.ptp(x) < 1e-12:  # identical distances: widen slightly so the density exists
        x = x + np.linspace(-1e-6, 1e-6, len(x))
    return gaussian_kde(x)


def overlap_and_kl(intra: np.ndarray, inter: np.ndarray, n_grid: int = 1000) -> tuple[float, float]:
    """Overlapping area of the two smoothed distance densities, and KL(intra || inter) in nats."""
    p_kde, q_kde = _kde(intra), _kde(inter)
    lo = min(intra.min(), inter.min())
    hi = max(intra.max(), inter.max())
    pad = 0.1 * (hi - lo) + 1e-6
    grid = np.linspace(lo - pad, hi + pad, n_grid)
    dx = grid[1] - grid[0]
    p, q = p_kde(grid), q_kde(grid)
    oa = float(np.minimum(p, q).sum() * dx)
    eps = 1e-10
    kl = float((p * np.log((p + eps) / (q + eps))).sum() * dx)
    return min(oa, 1.0), max(kl, 0.0)


def compare_sets(
    generated: Sequence[Score], reference: Sequence[Score], features: Sequence[str] | None = None
) -> dict[str, dict[str, float]]:
    """OA and KL per feature between a generated set and a reference set (each needs >= 2 pieces).

    Returns:
        {feature: {"overlap": OA in 0..1, "kl": KL in nats (and the set means for scalar features)}},
        plus "mean" averaging OA and KL over the features.
    """
    if len(generated) < 2 or len(reference) < 2:
        raise ValueError("set comparison needs at least 2 generated and 2 reference pieces")
    out: dict[str, dict[str, float]] = {}
    for name in features or list(FEATURES):
        f = FEATURES[name]
        g = np.stack([f(s) for s in generated])
        r = np.stack([f(s) for s in reference])
        oa, kl = overlap_and_kl(_pairwise(r), _pairwise(r, g))
        out[name] = {"overlap": round(oa, 4), "kl": round(kl, 4)}
        if g.shape[1] == 1:  # a scalar feature: its means are worth reading too
            out[name] |= {"generated_mean": round(float(g.mean()), 4), "reference_mean": round(float(r.mean()), 4)}
    out["mean"] = {
        "overlap": round(float(np.mean([v["overlap"] for v in out.values()])), 4),
        "kl": round(float(np.mean([v["kl"] for k, v in out.items() if k != "mean"])), 4),
    }
    return out
