"""Chords in a key: a vocabulary of roman numerals, and chord labels of four-part chorales per beat.

The vocabulary holds the diatonic triads, the common sevenths and the secondary dominants of a major or
(harmonic) minor key. `label_beats` names the chord of each beat of a chorale by template matching of the
sounding pitch classes (duration-weighted, the bass counted twice): the per-beat roman-numeral analysis used
as Bach's own harmony when harmonizers are evaluated and chord transitions are learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cadenza.core.score import Key, Score

QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
}
_NUMERALS = ("I", "bII", "II", "bIII", "III", "IV", "#IV", "V", "bVI", "VI", "bVII", "VII")


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord relative to the tonic: root in semitones above it (0..11) and a quality from QUALITIES."""

    root: int
    quality: str
    name: str  # roman numeral, e.g. "V7", "ii", "V/V"

    def pitch_classes(self, tonic: int = 0) -> tuple[int, ...]:
        return tuple((tonic + self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def is_seventh(self) -> bool:
        return len(QUALITIES[self.quality]) == 4


def _roman(root: int, quality: str, mode: str) -> str:
    base = _NUMERALS[root]
    if mode == "minor":  # in minor, the lowered degrees are the diatonic ones: name them plainly
        base = {3: "III", 8: "VI", 10: "VII"}.get(root, base)
    lower = quality in ("min", "dim", "min7", "hdim7", "dim7")
    text = base.lower() if lower else base
    suffix = {"dim": "°", "7": "7", "maj7": "M7", "min7": "7", "hdim7": "ø7", "dim7": "°7"}.get(quality, "")
    return text + suffix


# (root, quality, secondary-dominant name or "") per mode; secondary dominants are named by their target.
_VOCAB = {
    "major": [
        (0, "maj", ""), (2, "min", ""), (4, "min", ""), (5, "maj", ""), (7, "maj", ""), (9, "min", ""),
        (11, "dim", ""), (7, "7", ""), (2, "min7", ""), (11, "hdim7", ""), (5, "maj7", ""),
        (2, "maj", "V/V"), (2, "7", "V7/V"), (4, "maj", "V/vi"), (4, "7", "V7/vi"), (9, "maj", "V/ii"),
        (9, "7", "V7/ii"), (0, "7", "V7/IV"), (11, "maj", "V/iii"),
    ],
    "minor": [
        (0, "min", ""), (2, "dim", ""), (3, "maj", ""), (5, "min", ""), (7, "maj", ""), (8, "maj", ""),
        (10, "maj", ""), (11, "dim", ""), (7, "7", ""), (2, "hdim7", ""), (11, "dim7", ""), (5, "min7", ""),
        (0, "maj", "I (Picardy)"), (2, "maj", "V/V"), (2, "7", "V7/V"), (0, "7", "V7/iv"), (7, "min", ""),
    ],
}  # fmt: skip


@lru_cache(maxsize=2)
def vocabulary(mode: str) -> tuple[Chord, ...]:
    """The chord vocabulary of a major or minor key, diatonic triads first."""
    return tuple(Chord(r, q, name or _roman(r, q, mode)) for r, q, name in _VOCAB[mode])


def chord_templates(mode: str) -> np.ndarray:
    """[n_chords, 12] 0/1 pitch-class templates relative to the tonic."""
    vocab = vocabulary(mode)
    t = np.zeros((len(vocab), 12))
    for i, c in enumerate(vocab):
        t[i, list(c.pitch_classes())] = 1
    return t


def slot_origin(score: Score, slot_ql: float) -> float:
    """Start of the first slot (<= 0), so that slot boundaries fall on the bar lines after a pickup."""
    return score.pickup - np.ceil(score.pickup / slot_ql - 1e-9) * slot_ql


def n_slots(score: Score, slot_ql: float) -> int:
    return max(1, int(np.ceil((score.end - slot_origin(score, slot_ql)) / slot_ql - 1e-9)))


def beat_pitch_weights(score: Score, key: Key, beat_ql: float) -> tuple[np.ndarray, np.ndarray]:
    """Per beat: duration-weighted pitch classes relative to the tonic [n_beats, 12], and the bass pc [n_beats].

    Beats start at `slot_origin` (bar lines stay beat boundaries after a pickup). The lowest sounding note of
    each beat counts once more (the bass shapes the chord).
    """
    origin = slot_origin(score, beat_ql)
    n = n_slots(score, beat_ql)
    w = np.zeros((n, 12))
    bass = np.full(n, -1)
    lowest = np.full(n, 999)
    for part in score.parts:
        for note in part.notes:
            b0 = int((note.onset - origin) // beat_ql)
            b1 = int(np.ceil((note.offset - origin) / beat_ql - 1e-9))
            for b in range(b0, min(b1, n)):
                start = origin + b * beat_ql
                overlap = min(note.offset, start + beat_ql) - max(note.onset, start)
                if overlap <= 0:
                    continue
                pc = (note.pitch - key.tonic) % 12
                w[b, pc] += overlap
                if note.pitch < lowest[b]:
                    lowest[b], bass[b] = note.pitch, pc
    for b in range(n):
        if bass[b] >= 0:
            w[b, bass[b]] += beat_ql
    return w, bass


def label_beats(score: Score, key: Key, beat_ql: float | None = None) -> list[Chord | None]:
    """The best-matching vocabulary chord of each beat (None for a silent beat).

    Score of a chord = weight of its pitch classes - weight of the others - a small penalty for sevenths and
    secondary dominants, so that the simplest chord that explains the notes wins; + a bonus when the bass is
    the root.
    """
    beat = beat_ql or score.time_signature.beat_length
    w, bass = beat_pitch_weights(score, key, beat)
    vocab = vocabulary(key.mode)
    templates = chord_templates(key.mode)
    total = w.sum(axis=1, keepdims=True)
    fit = (w @ templates.T) - (w @ (1 - templates).T)  # [beats, chords]
    penalty = np.array([0.15 * c.is_seventh + 0.1 * ("/" in c.name or "(" in c.name) for c in vocab])
    root_bonus = np.array([[0.1 * (bass[b] == c.root) for c in vocab] for b in range(len(w))])
    score_ = fit / np.maximum(total, 1e-9) - penalty + root_bonus
    return [None if total[b, 0] <= 0 else vocab[int(score_[b].argmax())] for b in range(len(w))]
