"""GEDMAS-style top-down composition with Markov chains (Anderson, Eigenfeldt & Pasquier 2013).

A piece is generated from the top down, each level by a first-order chain learned from a corpus:
  1. the form: a sequence of section labels (learned from the phrase repetitions of the corpus: phrases
     with the same melody get the same label, as the two Stollen of a chorale's bar form);
  2. a chord progression per section label (bar-level chord transitions learned from the corpus's
     harmony: chorales labelled beat by beat, or the chord symbols of tunes that have them);
  3. a melody per section label, conditioned on its chords: the Markov melody model with chord tones
     favoured on strong beats;
  4. rhythm patterns per track on a 16-step bar grid: bass and chord patterns learned from the corpus's
     bass and inner voices; drum patterns from a small fixed vocabulary (no corpus here has drums).
Sections with the same label repeat their material, which is what gives the piece its form.

Anderson, Eigenfeldt & Pasquier, "The Generative Electronic Dance Music Algorithmic System (GEDMAS)",
AIIDE Workshop on Musical Metacreation, 2013.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cadenza.core.score import Key, Note, Part, Score, ScoreError, TimeSignature
from cadenza.symbolic.chords import Chord, label_beats, vocabulary
from cadenza.symbolic.markov import MarkovMelody

STEPS = 16  # 16th-note steps in a 4/4 bar
START, END = "<s>", "</s>"
DRUM_PATTERNS = {  # kick, snare, closed hi-hat onsets on the 16-step grid
    "backbeat": {36: (0, 8), 38: (4, 12), 42: (0, 2, 4, 6, 8, 10, 12, 14)},
    "four-on-the-floor": {36: (0, 4, 8, 12), 38: (4, 12), 42: (2, 6, 10, 14)},
    "half-time": {36: (0, 6), 38: (8,), 42: (0, 4, 8, 12)},
    "fill": {36: (0, 8), 38: (4, 10, 12, 13, 14, 15), 42: (0, 4)},
}


class CompositionError(ScoreError):
    """A corpus that cannot teach a level of the composition (no chords, no 4/4 material...)."""


def _chain(sequences: Sequence[Sequence[str]]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {}
    for seq in sequences:
        for a, b in zip([START, *seq], [*seq, END]):
            table.setdefault(a, Counter())[b] += 1
    return table


def _sample(
    table: dict[str, Counter[str]], state: str, rng: np.random.Generator, exclude: frozenset[str] = frozenset()
) -> str:
    row = {k: v for k, v in table.get(state, Counter()).items() if k not in exclude}
    if not row:
        row = {k: v for k, v in table[START].items() if k not in exclude} or {END: 1}
    keys = sorted(row)
    p = np.array([row[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


_FIGURE = re.compile(r"^([A-G])([#b-]?)(.*)$")
_SUFFIX = {"": "maj", "m": "min", "min": "min", "dim": "dim", "o": "dim", "7": "7", "maj7": "maj7", "M7": "maj7",
           "m7": "min7", "min7": "min7", "m7b5": "hdim7", "dim7": "dim7", "o7": "dim7"}  # fmt: skip


def chord_from_figure(figure: str, key: Key) -> Chord | None:
    """A chord symbol ("Am", "D7", "F#dim") as a vocabulary chord of `key`, or None if it is not in it."""
    m = _FIGURE.match(figure.strip())
    if m is None or m.group(3) not in _SUFFIX:
        return None
    root = ({"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1)] + {"#": 1, "b": -1, "-": -1}.get(
        m.group(2), 0)) % 12  # fmt: skip
    quality = _SUFFIX[m.group(3)]
    rel = (root - key.tonic) % 12
    return next((c for c in vocabulary(key.mode) if c.root == rel and c.quality == quality), None)


def _bar_chords(score: Score) -> list[Chord | None]:
    """One chord per 4/4 bar: the chord symbol sounding at the downbeat, else the downbeat's label."""
    assert score.key is not None
    n_bars = int(np.ceil((score.end - score.pickup) / 4 - 1e-9))
    if score.chords:
        out: list[Chord | None] = []
        for b in range(n_bars):
            t = score.pickup + 4 * b
            current = [c for c in score.chords if c.onset <= t + 1e-9]
            out.append(chord_from_figure(current[-1].figure, score.key) if current else None)
        return out
    labels = label_beats(score, score.key, 1.0)
    first = int(round(score.pickup))  # beats start at the origin, 0 for whole-beat pickups
    return [labels[first + 4 * b] if first + 4 * b < len(labels) else None for b in range(n_bars)]


def _pattern(notes: Sequence[Note], bar_start: float) -> str:
    steps = ["."] * STEPS
    for n in notes:
        k = round((n.onset - bar_start) * 4)
        if 0 <= k < STEPS and abs((n.onset - bar_start) * 4 - k) < 1e-6:
            steps[k] = "x"
    return "".join(steps)


def _phrase_labels(score: Score) -> list[str]:
    """Phrases (fermata to fermata in the melody) labelled A, B, C...; a phrase that matches an earlier one
    (the same length within a note, and at least 75% of its pitches the same, in place) takes its label."""
    phrases: list[tuple[int, ...]] = []
    current: list[int] = []
    for n in score.melody().notes:
        current.append(n.pitch)
        if n.fermata:
            phrases.append(tuple(current))
            current = []
    if current:
        phrases.append(tuple(current))
    seen: list[tuple[tuple[int, ...], str]] = []
    labels = []
    for p in phrases:
        match = next((lab for q, lab in seen if abs(len(p) - len(q)) <= 1 and _same_share(p, q) >= 0.75), None)
        if match is None:
            match = chr(ord("A") + min(len(seen), 25))
            seen.append((p, match))
        labels.append(match)
    return labels


def _same_share(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return sum(x == y for x, y in zip(a, b)) / max(len(a), len(b))


@dataclass
class Style:
    """What the corpus teaches: chains of section labels, bar chords (per mode) and 16-step patterns."""

    form: dict[str, Counter[str]] = field(default_factory=dict)
    chords: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)  # mode -> chain over chord names
    bass: dict[str, Counter[str]] = field(default_factory=dict)
    comp: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def learn(cls, scores: Sequence[Score]) -> Style:
        forms, bass_seqs, comp_seqs = [], [], []
        chord_seqs: dict[str, list[list[str]]] = {}
        for s in scores:
            if s.key is None or s.time_signature != TimeSignature(4, 4):
                continue
            if s.chords or len(s.parts) >= 3:
                names = [c.name for c in _bar_chords(s) if c is not None]
                if len(names) >= 2:
                    chord_seqs.setdefault(s.key.mode, []).append(names)
            if any(n.fermata for n in s.melody().notes):
                forms.append(_phrase_labels(s))
            if len(s.parts) >= 3:
                starts = [s.pickup + 4 * b for b in range(int((s.end - s.pickup) // 4))]
                bass, inner = s.parts[-1].notes, [n for p in s.parts[1:-1] for n in p.notes]
                bass_seqs.append([_pattern([n for n in bass if t <= n.onset < t + 4], t) for t in starts])
                comp_seqs.append([_pattern([n for n in inner if t <= n.onset < t + 4], t) for t in starts])
        if not chord_seqs:
            raise CompositionError("the corpus has no chord data (no chord symbols and no pieces of 3+ parts in 4/4)")
        return cls(
            form=_chain(forms) if forms else _chain([["A", "A", "B", "A"]]),
            chords={mode: _chain(seqs) for mode, seqs in chord_seqs.items()},
            bass=_chain(bass_seqs) if bass_seqs else _chain([["x...x...x...x..."]]),
            comp=_chain(comp_seqs) if comp_seqs else _chain([["x.......x......."]]),
        )


@dataclass
class Composition:
    form: list[str]
    progressions: dict[str, list[str]]
    score: Score


def compose(
    style: Style,
    melody_model: MarkovMelody,
    *,
    key: Key | None = None,
    bars_per_section: int = 4,
    tempo_bpm: float = 100.0,
    rng: np.random.Generator | None = None,
    max_sections: int = 8,
) -> Composition:
    """Generate a multi-track piece (melody, chords, bass, drums) top-down: form, chords, melody, rhythms."""
    rng = rng or np.random.default_rng()
    key = key or Key(0)
    mode = key.mode if key.mode in style.chords else next(iter(style.chords))
    vocab = {c.name: c for c in vocabulary(mode)}
    tonic_name = vocabulary(mode)[0].name
    # 1. form
    form: list[str] = []
    state = START
    while len(form) < max_sections:
        nxt = _sample(style.form, state, rng, exclude=frozenset({END}) if len(form) < 3 else frozenset())
        if nxt == END:
            break
        form.append(nxt)
        state = nxt
    # 2. chords per section label (the last bar of the piece's last label closes on the tonic)
    progressions: dict[str, list[str]] = {}
    for label in dict.fromkeys(form):
        seq, state = [], START
        for _ in range(bars_per_section):
            state = _sample(style.chords[mode], state, rng, exclude=frozenset({END}))
            seq.append(state if state in vocab else tonic_name)
        progressions[label] = seq
    progressions[form[-1]][-1] = tonic_name
    # 3. melody per section label, chord tones favoured on strong beats
    melodies: dict[str, Score] = {}
    for label, prog in progressions.items():

        def bias(t: float, prog: list[str] = prog) -> np.ndarray:
            w = np.ones(128)
            chord = vocab[prog[min(int(t // 4), len(prog) - 1)]]
            if abs(t % 1.0) < 1e-9:  # on a beat
                w[[p for p in range(128) if p % 12 in chord.pitch_classes(key.tonic)]] *= 4.0 if t % 2 == 0 else 2.0
            return w

        melodies[label] = melody_model.generate(
            bars=bars_per_section, key=key, time_signature=TimeSignature(4, 4), rng=rng, pitch_bias=bias,
            pitch_range=(60, 84),
            end_on_tonic=label == form[-1],
        )  # fmt: skip
    # 4. rhythm patterns per track, and the parts
    tracks: dict[str, list[Note]] = {"melody": [], "chords": [], "bass": [], "drums": []}
    bass_state = comp_state = START
    drum_names = list(DRUM_PATTERNS)
    for si, label in enumerate(form):
        t0 = si * bars_per_section * 4.0
        tracks["melody"] += [Note(n.pitch, n.onset + t0, n.duration, 90) for n in melodies[label].parts[0].notes]
        groove = drum_names[int(rng.integers(0, 3))]
        for b, name in enumerate(progressions[label]):
            bar = t0 + 4 * b
            pcs = vocab[name].pitch_classes(key.tonic)
            bass_state = _sample(style.bass, bass_state, rng, exclude=frozenset({END}))
            comp_state = _sample(style.comp, comp_state, rng, exclude=frozenset({END}))
            tracks["bass"] += _play(bass_state, bar, [36 + (pcs[0] - 36) % 12], 80)
            triad = sorted(48 + (pc - 48) % 12 for pc in pcs[:3])  # C3..B3, under the melody
            tracks["chords"] += _play(comp_state, bar, triad, 60)
            pattern = DRUM_PATTERNS["fill" if b == bars_per_section - 1 and si < len(form) - 1 else groove]
            for drum, steps in pattern.items():
                tracks["drums"] += [Note(drum, bar + k / 4, 0.25, 90 if k % 4 == 0 else 70) for k in steps]
    parts = (
        Part(tuple(tracks["melody"]), name="melody", program=73),
        Part(tuple(tracks["chords"]), name="chords", program=0),
        Part(tuple(tracks["bass"]), name="bass", program=33),
        Part(tuple(tracks["drums"]), name="drums", program=0, is_drum=True),
    )
    score = Score(parts, key=key, time_signature=TimeSignature(4, 4), tempo_bpm=tempo_bpm, title="GEDMAS-style piece")
    return Composition(form, progressions, score)


def _play(pattern: str, bar: float, pitches: list[int], velocity: int) -> list[Note]:
    """Notes of `pitches` at the pattern's onsets, each held to the next onset (or the bar's end)."""
    onsets = [k for k, ch in enumerate(pattern) if ch == "x"] or [0]
    out = []
    for i, k in enumerate(onsets):
        end = onsets[i + 1] if i + 1 < len(onsets) else STEPS
        out += [Note(p, bar + k / 4, (end - k) / 4, velocity) for p in pitches]
    return out


__all__ = ["Composition", "CompositionError", "Style", "chord_from_figure", "compose"]
