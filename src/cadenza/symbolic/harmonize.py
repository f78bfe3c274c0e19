"""Melody harmonization as a hidden Markov model learned from the Bach chorales, decoded exactly by Viterbi.

Hidden states are the chords of the key's vocabulary (`cadenza.symbolic.chords`), one per slot (a beat, or
N slots per bar). The model is learned from the chorales labelled beat by beat (`label_beats`):
transitions P(chord | previous chord), P(first chord), P(chord | phrase end) for cadences (fermatas), and the
melody emission P(soprano pitch class | chord). `HarmonyModel.score_terms` exposes the same terms as the
weighted fitness a genetic algorithm can optimize; Viterbi finds its exact optimum.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from cadenza.core.score import Key, Note, Part, Score, ScoreError
from cadenza.errors import InputError
from cadenza.evaluate.key import estimate_key
from cadenza.io.files import write_text_atomic
from cadenza.symbolic.chords import Chord, label_beats, n_slots, slot_origin, vocabulary

KIND = "harmony-hmm"
SHIPPED = "harmony-bach"


@dataclass
class HarmonyWeights:
    """Weights of the terms of the harmonization objective (1.0 = the learned log-probability)."""

    melody: float = 1.0
    transition: float = 1.0
    cadence: float = 1.0


@dataclass
class HarmonyModel:
    """Log-probability tables per mode: start [C], transition [C, C], cadence [C], emission [C, 12]."""

    kind: ClassVar[str] = KIND
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    weights: HarmonyWeights = field(default_factory=HarmonyWeights)

    def fit(self, chorales: Sequence[Score], smoothing: float = 0.5) -> HarmonyModel:
        counts: dict[str, dict[str, np.ndarray]] = {}
        for s in chorales:
            if len(s.parts) < 4 or s.key is None:
                continue
            mode = s.key.mode
            vocab = vocabulary(mode)
            index = {c: i for i, c in enumerate(vocab)}
            n = len(vocab)
            c = counts.setdefault(
                mode,
                {"start": np.zeros(n), "trans": np.zeros((n, n)), "cad": np.zeros(n), "emit": np.zeros((n, 12))},
            )
            beat = s.time_signature.beat_length
            labels = label_beats(s, s.key, beat)
            melody = slot_melody(s, s.key, beat)
            ends = phrase_ends(s, beat)
            prev = None
            for b, chord in enumerate(labels):
                if chord is None:
                    prev = None
                    continue
                i = index[chord]
                if prev is None:
                    c["start"][i] += 1
                else:
                    c["trans"][prev, i] += 1
                if ends[b]:
                    c["cad"][i] += 1
                c["emit"][i] += melody[b]
                prev = i
        if not counts:
            raise ScoreError("no four-part chorale with a key to learn harmony from")
        for mode, c in counts.items():
            self.tables[mode] = {
                "start": _log_norm(c["start"] + smoothing),
                "trans": _log_norm(c["trans"] + smoothing),
                "cad": _log_norm(c["cad"] + smoothing),
                "emit": _log_norm(c["emit"] + smoothing),
            }
        return self

    def slot_scores(self, melody: np.ndarray, ends: np.ndarray, mode: str) -> np.ndarray:
        """Per-slot local score of every chord [slots, C]: melody congruence (+ cadence at phrase ends)."""
        t = self.tables[mode]
        local = self.weights.melody * (melody @ t["emit"].T)
        local[ends] += self.weights.cadence * t["cad"]
        return local

    def viterbi(self, melody: np.ndarray, ends: np.ndarray, mode: str) -> list[int]:
        """The chord indices that maximize the total score (exact dynamic programming)."""
        t = self.tables[mode]
        local = self.slot_scores(melody, ends, mode)
        trans = self.weights.transition * t["trans"]
        n_slots, n = local.shape
        best = self.weights.transition * t["start"] + local[0]
        back = np.zeros((n_slots, n), dtype=int)
        for k in range(1, n_slots):
            cand = best[:, None] + trans  # [prev, next]
            back[k] = cand.argmax(axis=0)
            best = cand.max(axis=0) + local[k]
        path = [int(best.argmax())]
        for k in range(n_slots - 1, 0, -1):
            path.append(int(back[k, path[-1]]))
        return path[::-1]

    def total_score(self, path: Sequence[int], melody: np.ndarray, ends: np.ndarray, mode: str) -> float:
        """The objective of a chord sequence (what Viterbi maximizes; a GA's fitness)."""
        t = self.tables[mode]
        local = self.slot_scores(melody, ends, mode)
        s = self.weights.transition * t["start"][path[0]] + sum(local[k, c] for k, c in enumerate(path))
        s += self.weights.transition * sum(t["trans"][a, b] for a, b in zip(path, path[1:]))
        return float(s)

    def save_pretrained(self, folder: str | Path, *, card: str = "") -> Path:
        """Write `folder`/model.json (the tables and the vocabulary names) and card.md."""
        data = {
            "kind": KIND,
            "format_version": 1,
            "tables": {mode: {k: v.tolist() for k, v in t.items()} for mode, t in self.tables.items()},
            "vocabulary": {mode: [c.name for c in vocabulary(mode)] for mode in self.tables},
        }
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "model.json", json.dumps(data))
        if card:
            write_text_atomic(out / "card.md", card)
        return out

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path | None = None) -> HarmonyModel:
        """A model folder (or its model.json, or a shipped model by name; default: models/harmony-bach)."""
        from cadenza.pretrained import expect_kind, resolve

        p = resolve(name_or_dir or SHIPPED)
        if p.is_dir():
            expect_kind(p, KIND)
            p = p / "model.json"
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise InputError(p, f"not a harmony model ({type(e).__name__})") from None
        if data.get("kind") != KIND:
            raise InputError(p, f"holds a {data.get('kind', 'unknown')!r} model, not a harmony model")
        for mode, names in data["vocabulary"].items():
            if names != [c.name for c in vocabulary(mode)]:
                raise InputError(p, f"its {mode} chord vocabulary differs from this cadenza's: retrain it")
        return cls({m: {k: np.array(v) for k, v in t.items()} for m, t in data["tables"].items()})


def _log_norm(x: np.ndarray) -> np.ndarray:
    return np.log(x / x.sum(axis=-1, keepdims=True))


def slot_melody(score: Score, key: Key, slot_ql: float) -> np.ndarray:
    """Pitch classes (relative to the tonic) of the melody in each slot, weighted by duration [slots, 12]."""
    origin, n = slot_origin(score, slot_ql), n_slots(score, slot_ql)
    m = np.zeros((n, 12))
    for note in score.melody().notes:
        k0 = int((note.onset - origin) // slot_ql)
        k1 = int(np.ceil((note.offset - origin) / slot_ql - 1e-9))
        for k in range(k0, min(k1, n)):
            start = origin + k * slot_ql
            overlap = min(note.offset, start + slot_ql) - max(note.onset, start)
            if overlap > 0:
                m[k, (note.pitch - key.tonic) % 12] += overlap / slot_ql
    return m


def phrase_ends(score: Score, slot_ql: float) -> np.ndarray:
    """Slots that end a phrase: those of melody notes with a fermata, and the last slot."""
    origin, n = slot_origin(score, slot_ql), n_slots(score, slot_ql)
    ends = np.zeros(n, dtype=bool)
    for note in score.melody().notes:
        if note.fermata:
            ends[min(int((note.onset - origin) // slot_ql), n - 1)] = True
    ends[-1] = True
    return ends


@dataclass
class Harmonization:
    key: Key
    slot_ql: float
    chords: list[Chord]
    score: Score  # melody + alto, tenor, bass


@dataclass(frozen=True)
class HarmonyProblem:
    """A melody cut into chord slots: what every harmonization method searches over."""

    melody: Score
    key: Key
    slot_ql: float
    pitches: np.ndarray  # [slots, 12] melody pitch classes relative to the tonic (`slot_melody`)
    ends: np.ndarray  # [slots] phrase ends (`phrase_ends`)

    @classmethod
    def of(
        cls, melody: Score, model: HarmonyModel, *, key: Key | None = None, chords_per_bar: int | None = None
    ) -> HarmonyProblem:
        """Slots of one beat (or `chords_per_bar` per bar) in `key` (default: the score's, else estimated)."""
        if not melody.melody().notes:
            raise ScoreError(f"{melody.source or melody.title or 'melody'}: no notes to harmonize")
        key = key or melody.key or estimate_key(melody)
        if key.mode not in model.tables:
            key = Key(key.tonic, next(iter(model.tables)))
        ts = melody.time_signature
        slot = ts.bar_length / chords_per_bar if chords_per_bar else ts.beat_length
        return cls(melody, key, slot, slot_melody(melody, key, slot), phrase_ends(melody, slot))

    def solution(self, chord_indices: Sequence[int]) -> Harmonization:
        """The chords (indices into the key's vocabulary), voiced in four parts under the melody."""
        vocab = vocabulary(self.key.mode)
        chords = [vocab[int(i)] for i in chord_indices]
        origin = slot_origin(self.melody, self.slot_ql)
        voiced = voice_chords(chords, self.key, self.slot_ql, origin, self.pitches.sum(axis=1) > 0, self.melody)
        return Harmonization(self.key, self.slot_ql, chords, voiced)


def harmonize(
    melody: Score,
    model: HarmonyModel,
    *,
    key: Key | None = None,
    chords_per_bar: int | None = None,
) -> Harmonization:
    """Harmonize the first part of `melody` with the Viterbi optimum of `model`, voiced in four parts.

    Args:
        melody: a score whose first part is the tune (any meter, any key).
        model: a fitted HarmonyModel.
        key: the key (default: the score's, else estimated).
        chords_per_bar: slots per bar (default: one per beat).
    """
    problem = HarmonyProblem.of(melody, model, key=key, chords_per_bar=chords_per_bar)
    return problem.solution(model.viterbi(problem.pitches, problem.ends, problem.key.mode))


def voice_chords(
    chords: list[Chord], key: Key, slot_ql: float, origin: float, active: np.ndarray, melody: Score
) -> Score:
    """Alto, tenor and bass under the melody: chord tones, each voice moving as little as it can.

    The bass takes the root (E2..D4); alto and tenor take the chord tones nearest their previous notes below
    the melody, so that consecutive chords move by the smallest steps.
    """
    prev = {"alto": 64, "tenor": 57, "bass": 48}
    ranges = {"alto": (55, 74), "tenor": (48, 67), "bass": (40, 62)}
    voices: dict[str, list[Note]] = {v: [] for v in prev}
    top = melody.melody().notes
    for k, chord in enumerate(chords):
        if not active[k]:
            continue
        t0 = max(0.0, origin + k * slot_ql)
        length = origin + (k + 1) * slot_ql - t0
        sounding = [n.pitch for n in top if n.onset <= t0 + 1e-9 < n.offset] or [72]
        ceiling = min(sounding) - 1
        pcs = chord.pitch_classes(key.tonic)
        root = pcs[0]
        for v, pool in (("bass", [root]), ("tenor", pcs), ("alto", pcs)):
            lo, hi = ranges[v]
            hi = min(hi, ceiling if v != "bass" else hi)
            options = [p for p in range(lo, hi + 1) if p % 12 in pool]
            if v == "alto" and voices["tenor"]:
                options = [p for p in options if p >= voices["tenor"][-1].pitch] or options
            if not options:
                options = [p for p in range(lo, ranges[v][1] + 1) if p % 12 in pool]
            pitch = min(options, key=lambda p: abs(p - prev[v]))
            voices[v].append(Note(pitch, round(t0, 6), round(length, 6)))
            prev[v] = pitch
    parts = [Part(melody.melody().notes, name="melody", program=73)]
    for v, program in (("alto", 52), ("tenor", 52), ("bass", 52)):
        parts.append(Part(tuple(_merge_repeats(voices[v])), name=v, program=program))
    return melody.replace(parts=tuple(parts), key=key)


def _merge_repeats(notes: list[Note]) -> list[Note]:
    """Tie a voice's repeated pitch across consecutive slots into one longer note."""
    out: list[Note] = []
    for n in notes:
        if out and out[-1].pitch == n.pitch and abs(out[-1].offset - n.onset) < 1e-9:
            out[-1] = Note(n.pitch, out[-1].onset, out[-1].duration + n.duration)
        else:
            out.append(n)
    return out


def chord_accuracy(predicted: Sequence[Chord | None], reference: Sequence[Chord | None]) -> tuple[int, int]:
    """(matches, compared): beats where root and quality agree, over beats where the reference has a chord."""
    pairs = [(p, r) for p, r in zip(predicted, reference) if r is not None]
    hits = sum(p is not None and (p.root, p.quality) == (r.root, r.quality) for p, r in pairs)
    return hits, len(pairs)


CARD = """# Chord HMM of `{corpus}` (cadenza)

The tables of `cadenza.symbolic.harmonize.HarmonyModel` (start, transition, cadence and melody-emission
log-probabilities per mode), learned from the four-part chorales of the train split of `{corpus}` with add-0.5
smoothing. `cadenza harmonize --evaluate` measures it on the held-out chorales.
"""
