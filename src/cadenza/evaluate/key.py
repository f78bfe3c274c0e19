"""Key finding by key-profile correlation (Krumhansl & Kessler 1982; Krumhansl-Schmuckler algorithm).

Reference: C. L. Krumhansl, "Cognitive Foundations of Musical Pitch", Oxford University Press, 1990.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cadenza.core.score import Key, Score

# Krumhansl-Kessler probe-tone profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def pitch_class_durations(score: Score) -> np.ndarray:
    """Total duration (quarter lengths) of each pitch class over all pitched parts, shape [12]."""
    hist = np.zeros(12)
    for part in score.parts:
        if part.is_drum:
            continue
        for n in part.notes:
            hist[n.pitch % 12] += n.duration
    return hist


def key_correlations(hist: np.ndarray) -> dict[Key, float]:
    """Pearson correlation of a pitch-class histogram with all 24 rotated key profiles."""
    out: dict[Key, float] = {}
    if hist.sum() <= 0 or np.allclose(hist, hist[0]):
        return {Key(t, m): 0.0 for m in ("major", "minor") for t in range(12)}
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            out[Key(tonic, mode)] = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
    return out


def estimate_key(score: Score, candidates: Sequence[Key] | None = None) -> Key:
    """The key whose profile best correlates with the duration-weighted pitch classes of `score`.

    Args:
        score: any score with notes.
        candidates: restrict the choice (e.g. a key signature's major and relative minor).
    """
    corr = key_correlations(pitch_class_durations(score))
    keys = list(candidates) if candidates else list(corr)
    return max(keys, key=lambda k: corr[k])
