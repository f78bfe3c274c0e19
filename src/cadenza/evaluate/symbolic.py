"""Symbolic music metrics: the 14 MusPy metrics, histograms, and a one-call `analyze`.

Definitions follow MusPy (Dong et al., ISMIR 2020, https://salu133445.github.io/muspy/metrics.html),
computed on a time grid of `RESOLUTION` steps per quarter note; drum parts are ignored by the pitch
metrics and used only by the drum metrics. Each function is pure and documents its formula.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cadenza.core.score import Key, Score
from cadenza.evaluate.key import estimate_key

RESOLUTION = 12  # time steps per quarter: 16ths (3 steps) and 8th-note triplets (4 steps) both fit


def _pitched(score: Score) -> list[tuple[int, float, float]]:
    return [(n.pitch, n.onset, n.offset) for p in score.parts if not p.is_drum for n in p.notes]


def _roll(score: Score) -> np.ndarray:
    """Boolean piano roll [time steps, 128] of pitched notes."""
    notes = _pitched(score)
    length = max((round(e * RESOLUTION) for _, _, e in notes), default=0)
    roll = np.zeros((length, 128), dtype=bool)
    for p, s, e in notes:
        roll[round(s * RESOLUTION) : max(round(e * RESOLUTION), round(s * RESOLUTION) + 1), p] = True
    return roll


def pitch_range(score: Score) -> int:
    """Highest minus lowest pitch, in semitones."""
    pitches = [p for p, _, _ in _pitched(score)]
    return max(pitches) - min(pitches) if pitches else 0


def n_pitches_used(score: Score) -> int:
    """Number of distinct MIDI pitches."""
    return len({p for p, _, _ in _pitched(score)})


def n_pitch_classes_used(score: Score) -> int:
    """Number of distinct pitch classes."""
    return len({p % 12 for p, _, _ in _pitched(score)})


def polyphony(score: Score) -> float:
    """Mean number of sounding pitches over the time steps where at least one pitch sounds."""
    counts = _roll(score).sum(axis=1)
    active = counts[counts > 0]
    return float(active.mean()) if active.size else 0.0


def polyphony_rate(score: Score, threshold: int = 2) -> float:
    """Share of time steps where at least `threshold` pitches sound."""
    counts = _roll(score).sum(axis=1)
    return float((counts >= threshold).mean()) if counts.size else 0.0


def pitch_in_scale_rate(score: Score, key: Key) -> float:
    """Share of notes whose pitch class is in the scale of `key` (natural minor for minor keys)."""
    pcs = [p % 12 for p, _, _ in _pitched(score)]
    scale = set(key.scale)
    return sum(pc in scale for pc in pcs) / len(pcs) if pcs else 0.0


def scale_consistency(score: Score) -> float:
    """Largest `pitch_in_scale_rate` over the 24 major and minor keys."""
    return max(pitch_in_scale_rate(score, Key(t, m)) for m in ("major", "minor") for t in range(12))


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return 0.0
    prob = counts[counts > 0] / total
    return float(-(prob * np.log2(prob)).sum())


def pitch_entropy(score: Score) -> float:
    """Shannon entropy (bits) of the note-count histogram over the 128 pitches."""
    return _entropy(np.bincount([p for p, _, _ in _pitched(score)], minlength=128).astype(float))


def pitch_class_entropy(score: Score) -> float:
    """Shannon entropy (bits) of the note-count histogram over the 12 pitch classes (max log2 12 = 3.585)."""
    return _entropy(pitch_class_histogram(score, weight="count"))


def _beats(score: Score) -> tuple[float, int]:
    beat = score.time_signature.beat_length
    return beat, max(1, math.ceil(score.end / beat - 1e-9))


def empty_beat_rate(score: Score) -> float:
    """Share of beats in which no pitched note sounds."""
    beat, n = _beats(score)
    busy = np.zeros(n, dtype=bool)
    for _, s, e in _pitched(score):
        busy[int(s // beat) : max(int(math.ceil(e / beat - 1e-9)), int(s // beat) + 1)] = True
    return float(1 - busy.mean())


def empty_measure_rate(score: Score) -> float:
    """Share of bars in which no pitched note sounds."""
    bars = list(score.bars())
    if not bars:
        return 0.0
    notes = _pitched(score)
    empty = sum(not any(s < b1 and e > b0 for _, s, e in notes) for b0, b1 in bars)
    return empty / len(bars)


def _onset_patterns(score: Score, *, drums: bool | None = None) -> np.ndarray:
    """Binary onset vectors, one row per bar [n_bars, steps per bar], after the pickup."""
    bar_steps = round(score.time_signature.bar_length * RESOLUTION)
    notes = [n for p in score.parts if drums is None or p.is_drum == drums for n in p.notes]
    shift = score.pickup
    n_bars = max(1, math.ceil((score.end - shift) / score.time_signature.bar_length - 1e-9))
    pat = np.zeros((n_bars, bar_steps), dtype=bool)
    for n in notes:
        t = round((n.onset - shift) * RESOLUTION)
        if t >= 0:
            bar, pos = divmod(t, bar_steps)
            if bar < n_bars:
                pat[bar, pos] = True
    return pat


def groove_consistency(score: Score) -> float:
    """1 - mean Hamming distance between the onset patterns of neighbouring bars, per step (Wu & Yang 2020)."""
    pat = _onset_patterns(score)
    if len(pat) < 2:
        return 1.0
    return float(1 - (pat[:-1] != pat[1:]).sum(axis=1).mean() / pat.shape[1])


def drum_in_pattern_rate(score: Score, meter: str = "duple") -> float:
    """Share of drum onsets on the 16th grid ("duple") or the 8th-triplet grid ("triple"); NaN without drums."""
    onsets = [n.onset for p in score.parts if p.is_drum for n in p.notes]
    if not onsets:
        return float("nan")
    step = 0.25 if meter == "duple" else 1 / 3
    return sum(abs(t / step - round(t / step)) < 1e-6 for t in onsets) / len(onsets)


def drum_pattern_consistency(score: Score) -> float:
    """Largest of the duple and triple `drum_in_pattern_rate`; NaN without drums."""
    return max(drum_in_pattern_rate(score, "duple"), drum_in_pattern_rate(score, "triple"))


MUSPY_METRICS = (
    "pitch_range", "n_pitches_used", "n_pitch_classes_used", "polyphony", "polyphony_rate", "pitch_in_scale_rate",
    "scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate", "empty_measure_rate",
    "groove_consistency", "drum_in_pattern_rate", "drum_pattern_consistency",
)  # fmt: skip


def muspy_metrics(score: Score, key: Key | None = None) -> dict[str, float]:
    """All 14 MusPy metrics; `pitch_in_scale_rate` uses `key` (default: the score's key, else estimated)."""
    k = key or score.key or estimate_key(score)
    return {
        "pitch_range": pitch_range(score),
        "n_pitches_used": n_pitches_used(score),
        "n_pitch_classes_used": n_pitch_classes_used(score),
        "polyphony": polyphony(score),
        "polyphony_rate": polyphony_rate(score),
        "pitch_in_scale_rate": pitch_in_scale_rate(score, k),
        "scale_consistency": scale_consistency(score),
        "pitch_entropy": pitch_entropy(score),
        "pitch_class_entropy": pitch_class_entropy(score),
        "empty_beat_rate": empty_beat_rate(score),
        "empty_measure_rate": empty_measure_rate(score),
        "groove_consistency": groove_consistency(score),
        "drum_in_pattern_rate": drum_in_pattern_rate(score),
        "drum_pattern_consistency": drum_pattern_consistency(score),
    }


def pitch_class_histogram(score: Score, weight: str = "count") -> np.ndarray:
    """Pitch-class histogram [12], by note count ("count") or total duration ("duration")."""
    hist = np.zeros(12)
    for p in score.parts:
        if p.is_drum:
            continue
        for n in p.notes:
            hist[n.pitch % 12] += 1.0 if weight == "count" else n.duration
    return hist


def melodic_intervals(score: Score) -> list[int]:
    """Successive pitch intervals (semitones) within each monophonic line (for chordal parts, the top note)."""
    out: list[int] = []
    for p in score.parts:
        if p.is_drum:
            continue
        tops: dict[float, int] = {}
        for n in p.notes:
            tops[n.onset] = max(tops.get(n.onset, 0), n.pitch)
        line = [tops[t] for t in sorted(tops)]
        out += [b - a for a, b in zip(line, line[1:])]
    return out


def interval_histogram(score: Score, max_interval: int = 12) -> dict[int, int]:
    """Counts of melodic intervals from -max_interval to +max_interval (larger ones clipped)."""
    counts = dict.fromkeys(range(-max_interval, max_interval + 1), 0)
    for iv in melodic_intervals(score):
        counts[max(-max_interval, min(max_interval, iv))] += 1
    return counts


def analyze(score: Score) -> dict[str, Any]:
    """Everything `cadenza analyze` prints: key, meter, range, size and all metrics, JSON-ready."""
    key = score.key or estimate_key(score)
    lo, hi = score.pitch_range()
    return {
        "title": score.title,
        "key": key.name,
        "key_source": "file" if score.key else "estimated",
        "meter": str(score.time_signature),
        "tempo_bpm": score.tempo_bpm,
        "parts": [p.name for p in score.parts],
        "notes": score.n_notes,
        "duration_quarters": round(score.end, 4),
        "duration_s": round(score.duration_s, 3),
        "lowest_pitch": lo,
        "highest_pitch": hi,
        "metrics": {k: _clean(v) for k, v in muspy_metrics(score, key).items()},
        "pitch_class_histogram": [int(x) for x in pitch_class_histogram(score)],
        "interval_histogram": {str(k): v for k, v in interval_histogram(score).items()},
    }


def _clean(v: float) -> float | None:
    """Round for display; NaN (a metric that does not apply) becomes None (JSON null)."""
    return None if isinstance(v, float) and math.isnan(v) else round(float(v), 6)
