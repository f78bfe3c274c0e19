"""Lead sheets: chord symbols read per beat, the chord a harmonization really sounds per beat, and the two compared.

A harmonizer is judged by what it sounds, not by its labels: `sounded_chords` chordifies every part of an
output (duration-weighted pitch classes of each beat, the bass counted once more) and names the best-matching
chord over all twelve roots, as `label_beats` does inside one key. `chord_symbol_beats` reads the human chord
symbols of a lead sheet (ABC "Am7", MusicXML harmony, POP909 "A:min7") onto the same beats. `accuracy_triplet`
compares the two: the root, the root and triad (sevenths reduced to their triad), and the root and full quality.

    >>> parse_figure("F#m7/C#")
    (6, 'min7')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from cadenza.core.score import Score
from cadenza.symbolic.chords import QUALITIES, beat_pitch_weights, n_slots, slot_origin

# chord qualities a symbol may name, beyond QUALITIES: the triad each reduces to (sus chords count as major:
# their root is clear and their third is left to the melody)
TRIAD = {"maj": "maj", "min": "min", "dim": "dim", "aug": "aug", "7": "maj", "maj7": "maj", "min7": "min",
         "hdim7": "dim", "dim7": "dim", "sus2": "maj", "sus4": "maj", "7sus4": "maj", "maj6": "maj", "min6": "min",
         "minmaj7": "min"}  # fmt: skip
_SOUNDED = {**QUALITIES, "aug": (0, 4, 8)}  # what `sounded_chords` can name

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# suffix (after the root, lower-cased) -> quality; the longest match wins
_SUFFIXES = {
    "": "maj", "maj": "maj", "major": "maj", "m": "min", "min": "min", "-": "min", "dim": "dim", "o": "dim",
    "°": "dim", "aug": "aug", "+": "aug", "7": "7", "dom7": "7", "9": "7", "11": "7", "13": "7", "maj7": "maj7",
    "m7": "min7", "min7": "min7", "-7": "min7", "m9": "min7", "m11": "min7", "m7b5": "hdim7", "hdim7": "hdim7",
    "ø": "hdim7", "ø7": "hdim7", "dim7": "dim7", "o7": "dim7", "°7": "dim7", "sus": "sus4", "sus4": "sus4",
    "sus2": "sus2", "7sus4": "7sus4", "7sus": "7sus4", "sus4(b7)": "7sus4", "6": "maj6", "maj6": "maj6",
    "m6": "min6", "min6": "min6", "minmaj7": "minmaj7", "mmaj7": "minmaj7", "maj9": "maj7", "add9": "maj",
    "5": "maj",
}  # fmt: skip
_FIGURE = re.compile(r"^\s*([A-Ga-g])([#b♯♭-]*)(.*?)\s*$")


def parse_figure(figure: str) -> tuple[int, str] | None:
    """(root pitch class, quality) of a chord symbol, e.g. "Bbmaj7" -> (10, "maj7"), "A:min7" -> (9, "min7");
    None for no chord ("N", "N.C.") or a symbol it cannot read. An inversion ("/E", "/5") is ignored; "-" after
    the letter is a flat, as in music21 ("B-7" is B-flat seven)."""
    text = figure.strip()
    if not text or text.upper() in ("N", "NC", "N.C."):
        return None
    m = _FIGURE.match(text.split("/")[0] if not text.startswith("/") else "")
    if m is None:
        return None
    letter, accidentals, rest = m.groups()
    if letter.islower() and rest == "":  # ABC-style lower case = minor ("a" = A minor)
        rest = "m"
    root = _LETTERS[letter.upper()] + sum({"#": 1, "♯": 1, "b": -1, "♭": -1, "-": -1}[a] for a in accidentals)
    suffix = rest.lstrip(":").strip().lower()
    if suffix not in _SUFFIXES:  # extensions after a known head: "7(b9)", "m7add11"
        heads = [s for s in _SUFFIXES if s and suffix.startswith(s)]
        if not heads:
            return None
        suffix = max(heads, key=len)
    return root % 12, _SUFFIXES[suffix]


def chord_symbol_beats(score: Score, beat_ql: float | None = None) -> list[tuple[int, str] | None]:
    """The human chord in effect on each beat (a symbol holds until the next; None before the first and for "N"),
    on the beats of `sounded_chords`. The symbol sounding at a beat's middle counts."""
    beat = beat_ql or score.time_signature.beat_length
    origin, n = slot_origin(score, beat), n_slots(score, beat)
    symbols = sorted(score.chords, key=lambda c: c.onset)
    onsets = np.array([c.onset for c in symbols])
    out: list[tuple[int, str] | None] = []
    for b in range(n):
        i = int(np.searchsorted(onsets, origin + (b + 0.5) * beat, side="right")) - 1
        out.append(parse_figure(symbols[i].figure) if i >= 0 else None)
    return out


def sounded_chords(score: Score, beat_ql: float | None = None) -> list[tuple[int, str] | None]:
    """The chord that all parts of `score` sound on each beat, over all twelve roots (None for a silent beat).

    Template matching of the duration-weighted pitch classes (the bass counted once more): the chord whose
    tones carry the most weight and the others the least, a small penalty on sevenths, a bonus when the bass is
    the root.
    """
    from cadenza.core.score import Key

    beat = beat_ql or score.time_signature.beat_length
    w, bass = beat_pitch_weights(score, Key(0, "major"), beat)  # pitch classes relative to C: absolute
    names, templates, penalty = _all_chords()
    total = w.sum(axis=1, keepdims=True)
    fit = (w @ templates.T - w @ (1 - templates).T) / np.maximum(total, 1e-9)
    root_bonus = 0.1 * (bass[:, None] == np.array([r for r, _ in names])[None, :])
    best = (fit - penalty[None, :] + root_bonus).argmax(axis=1)
    return [None if total[b, 0] <= 0 else names[int(best[b])] for b in range(len(w))]


@lru_cache(maxsize=1)
def _all_chords() -> tuple[list[tuple[int, str]], np.ndarray, np.ndarray]:
    """Every (root, quality) `sounded_chords` can name, its pitch-class template, and its penalty."""
    names = [(r, q) for q in _SOUNDED for r in range(12)]
    templates = np.zeros((len(names), 12))
    for i, (r, q) in enumerate(names):
        templates[i, [(r + x) % 12 for x in _SOUNDED[q]]] = 1
    penalty = np.array([0.15 * (len(_SOUNDED[q]) == 4) + 0.05 * (q == "aug") for _, q in names])
    return names, templates, penalty


def accuracy_triplet(
    predicted: Sequence[tuple[int, str] | None], reference: Sequence[tuple[int, str] | None]
) -> dict[str, int]:
    """Counts over the beats where the reference has a chord: same root; same root and triad; same root and
    quality (a seventh must be a seventh). Returns {"beats", "root", "root_triad", "root_quality"}."""
    out = {"beats": 0, "root": 0, "root_triad": 0, "root_quality": 0}
    for p, r in zip(predicted, reference):
        if r is None:
            continue
        out["beats"] += 1
        if p is None or p[0] != r[0]:
            continue
        out["root"] += 1
        out["root_triad"] += TRIAD.get(p[1], p[1]) == TRIAD.get(r[1], r[1])
        out["root_quality"] += p[1] == r[1]
    return out
