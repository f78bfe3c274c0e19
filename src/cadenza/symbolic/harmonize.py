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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from cadenza.core.score import Key, Score, ScoreError
from cadenza.errors import InputError
from cadenza.evaluate.key import estimate_key
from cadenza.io.files import write_text_atomic
from cadenza.symbolic.chords import Chord, chord_templates, label_beats, n_slots, slot_origin, vocabulary

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
    # harmonic rhythm: per meter ("4/4"), log P(the chord changes) at each beat of the bar [beats]
    rhythm: dict[str, np.ndarray] = field(default_factory=dict)

    def fit(self, pieces: Sequence[Score], smoothing: float = 0.5) -> HarmonyModel:
        """Count chords per beat, their transitions, cadences and the melody over them, per mode: four-part
        chorales labelled by `label_beats`, and lead sheets by their chord symbols (`symbol_labels`)."""
        counts: dict[str, dict[str, np.ndarray]] = {}
        changes: dict[str, np.ndarray] = {}  # meter -> [beats per bar, 2]: (stays, changes) at each beat
        for s in pieces:
            labels = beat_labels(s)
            if labels is None:
                continue
            assert s.key is not None
            mode = s.key.mode
            vocab = vocabulary(mode)
            index = {c: i for i, c in enumerate(vocab)}
            n = len(vocab)
            c = counts.setdefault(
                mode,
                {"start": np.zeros(n), "trans": np.zeros((n, n)), "cad": np.zeros(n), "emit": np.zeros((n, 12))},
            )
            beat = s.time_signature.beat_length
            melody = slot_melody(s, s.key, beat)
            ends = phrase_ends(s, beat)
            where = bar_positions(s, beat)
            prev = None
            for b, chord in enumerate(labels[: len(melody)]):
                if chord is None:
                    prev = None
                    continue
                i = index[chord]
                if prev is None:
                    c["start"][i] += 1
                else:
                    c["trans"][prev, i] += 1
                    if where is not None:
                        meter, pos = where
                        table = changes.setdefault(meter, np.zeros((int(pos.max(initial=0)) + 1, 2)))
                        if pos[b] >= len(table):
                            table = changes[meter] = np.vstack([table, np.zeros((pos[b] + 1 - len(table), 2))])
                        table[pos[b], int(prev != i)] += 1
                if ends[b]:
                    c["cad"][i] += 1
                c["emit"][i] += melody[b]
                prev = i
        if not counts:
            raise ScoreError("no four-part chorale or lead sheet with chord symbols (and a key) to learn harmony from")
        for mode, c in counts.items():
            # a rare chord's melody is smoothed towards its own tones, not towards every pitch class alike
            tones = chord_templates(mode)
            self.tables[mode] = {
                "start": _log_norm(c["start"] + smoothing),
                "trans": _log_norm(c["trans"] + smoothing),
                "cad": _log_norm(c["cad"] + smoothing),
                "emit": _log_norm(c["emit"] + smoothing * (1 + 4 * tones)),
            }
        self.rhythm = {m: np.log((t[:, 1] + 1.0) / (t.sum(axis=1) + 2.0)) for m, t in changes.items() if t.sum() > 0}
        return self

    def transitions(self, n: int, mode: str, positions: tuple[str, np.ndarray] | None = None) -> np.ndarray:
        """[n, C, C]: the weighted score of moving from chord a (slot k - 1) to chord b (slot k), per slot k (row
        0 unused): log P(b | a), and with `positions` (meter, each slot's beat in its bar) and a harmonic rhythm
        learned for that meter, shifted by how much likelier a change (or a stay) is on this beat than on an
        average one."""
        t = self.tables[mode]
        trans = self.weights.transition * t["trans"]
        if positions is None or positions[0] not in self.rhythm:
            return np.broadcast_to(trans, (n, *trans.shape))
        meter, pos = positions
        change = self.rhythm[meter][np.minimum(pos, len(self.rhythm[meter]) - 1)]  # [n] log P(change | beat)
        mean = np.log(np.exp(self.rhythm[meter]).mean())
        shift_change = change - mean
        shift_stay = np.log1p(-np.exp(change)) - np.log1p(-np.exp(mean))
        eye = np.eye(len(trans), dtype=bool)
        return trans[None] + np.where(eye[None], shift_stay[:, None, None], shift_change[:, None, None])

    def chain(
        self, melody: np.ndarray, ends: np.ndarray, mode: str, positions: tuple[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The objective's terms: local [L, C] (melody, cadence), start [C], transitions [L, C, C]."""
        local = self.slot_scores(melody, ends, mode)
        start = self.weights.transition * self.tables[mode]["start"]
        return local, start, self.transitions(len(local), mode, positions)

    def slot_scores(self, melody: np.ndarray, ends: np.ndarray, mode: str) -> np.ndarray:
        """Per-slot local score of every chord [slots, C]: melody congruence (+ cadence at phrase ends)."""
        t = self.tables[mode]
        local = self.weights.melody * (melody @ t["emit"].T)
        local[ends] += self.weights.cadence * t["cad"]
        return local

    def viterbi(
        self, melody: np.ndarray, ends: np.ndarray, mode: str, positions: tuple[str, np.ndarray] | None = None
    ) -> list[int]:
        """The chord indices that maximize the total score (exact dynamic programming)."""
        local, start, trans = self.chain(melody, ends, mode, positions)
        n_slots, n = local.shape
        best = start + local[0]
        back = np.zeros((n_slots, n), dtype=int)
        for k in range(1, n_slots):
            cand = best[:, None] + trans[k]  # [prev, next]
            back[k] = cand.argmax(axis=0)
            best = cand.max(axis=0) + local[k]
        path = [int(best.argmax())]
        for k in range(n_slots - 1, 0, -1):
            path.append(int(back[k, path[-1]]))
        return path[::-1]

    def total_score(
        self,
        path: Sequence[int],
        melody: np.ndarray,
        ends: np.ndarray,
        mode: str,
        positions: tuple[str, np.ndarray] | None = None,
    ) -> float:
        """The objective of a chord sequence (what Viterbi maximizes; a GA's fitness)."""
        local, start, trans = self.chain(melody, ends, mode, positions)
        s = start[path[0]] + sum(local[k, c] for k, c in enumerate(path))
        s += sum(trans[k, a, b] for k, (a, b) in enumerate(zip(path, path[1:]), start=1))
        return float(s)

    def save_pretrained(self, folder: str | Path, *, card: str = "") -> Path:
        """Write `folder`/model.json (the tables and the vocabulary names) and card.md."""
        data = {
            "kind": KIND,
            "format_version": 1,
            "tables": {mode: {k: v.tolist() for k, v in t.items()} for mode, t in self.tables.items()},
            "vocabulary": {mode: [c.name for c in vocabulary(mode)] for mode in self.tables},
            "rhythm": {meter: v.tolist() for meter, v in self.rhythm.items()},
            "weights": asdict(self.weights),
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
        return cls(
            {m: {k: np.array(v) for k, v in t.items()} for m, t in data["tables"].items()},
            HarmonyWeights(**data.get("weights", {})),
            {meter: np.array(v) for meter, v in data.get("rhythm", {}).items()},
        )


def label_accuracy(model: HarmonyModel, pieces: Sequence[Score]) -> float:
    """Share of beats whose Viterbi chord has the root and quality of the piece's own (`beat_labels`): the
    chorale's sounding chord, or the lead sheet's symbol; over the beats that have one."""
    hits = total = 0
    for s in pieces:
        ref = beat_labels(s)
        if ref is None or not s.melody().notes:
            continue
        problem = HarmonyProblem.of(s, model, key=s.key)
        vocab = vocabulary(problem.key.mode)
        a, b = chord_accuracy([vocab[i] for i in problem.viterbi(model)], ref)
        hits, total = hits + a, total + b
    return hits / max(total, 1)


def train_harmony(
    train: Sequence[Score], valid: Sequence[Score], *, smoothing: float = 0.5
) -> tuple[HarmonyModel, dict[str, float]]:
    """Fit the tables on `train`, then choose the weights of the melody and the transitions, and whether to use
    the learned harmonic rhythm, by label accuracy on `valid`. Returns the model and what each choice scored."""
    model = HarmonyModel().fit(train, smoothing)
    rhythm = model.rhythm
    tried: dict[str, float] = {}
    best = (-1.0, HarmonyWeights(), rhythm)
    for use_rhythm in (True, False) if rhythm else (False,):
        for melody in (1.0, 2.0, 3.0):
            for transition in (0.5, 1.0):
                model.weights, model.rhythm = HarmonyWeights(melody, transition), rhythm if use_rhythm else {}
                acc = label_accuracy(model, valid)
                tried[f"melody {melody:g}, transition {transition:g}, rhythm {'on' if use_rhythm else 'off'}"] = acc
                if acc > best[0] + 1e-9:
                    best = (acc, model.weights, model.rhythm)
    _, model.weights, model.rhythm = best
    return model, tried


def _log_norm(x: np.ndarray) -> np.ndarray:
    return np.log(x / x.sum(axis=-1, keepdims=True))


def symbol_labels(score: Score, key: Key, beat_ql: float | None = None) -> list[Chord | None]:
    """A lead sheet's chord symbols per beat as chords of the key's vocabulary: the same root and quality, else
    the same root and triad (a sus chord counts as its major triad); None for a beat without a symbol or with
    one the vocabulary lacks (in major, the borrowed bVII, bVI, bIII)."""
    from cadenza.symbolic.leadsheet import TRIAD, chord_symbol_beats

    vocab = vocabulary(key.mode)
    exact = {(c.root, c.quality): c for c in reversed(vocab)}  # diatonic chords first when two share a name
    triads = {(c.root, c.quality): c for c in reversed(vocab) if not c.is_seventh}
    out: list[Chord | None] = []
    for sym in chord_symbol_beats(score, beat_ql):
        if sym is None:
            out.append(None)
            continue
        rel = (sym[0] - key.tonic) % 12
        out.append(exact.get((rel, sym[1])) or triads.get((rel, TRIAD.get(sym[1], sym[1]))))
    return out


def beat_labels(score: Score) -> list[Chord | None] | None:
    """The chord of each beat to learn from: a four-part chorale's by `label_beats`, a lead sheet's by its
    symbols; None for a piece that is neither (or has no key)."""
    if score.key is None:
        return None
    if len(score.parts) >= 4:
        return label_beats(score, score.key, score.time_signature.beat_length)
    if score.chords:
        return symbol_labels(score, score.key)
    return None


def bar_positions(score: Score, slot_ql: float) -> tuple[str, np.ndarray] | None:
    """(meter, the beat within its bar on which each slot starts: 0 = the downbeat) when the slots are whole beats
    (one beat, or `chords_per_bar` slots of two beats...: the chance of a change at a slot's start is then the
    learned chance of a change on its first beat); None for slots that split a beat or straddle beats (no
    harmonic rhythm was learned for them)."""
    ts = score.time_signature
    ratio = slot_ql / ts.beat_length
    if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-9:
        return None
    beats = max(1, round(ts.bar_length / ts.beat_length))
    origin, n = slot_origin(score, slot_ql), n_slots(score, slot_ql)
    starts = (origin + np.arange(n) * slot_ql - score.pickup) % ts.bar_length
    return str(ts), np.rint(starts / ts.beat_length).astype(int) % beats


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
    positions: tuple[str, np.ndarray] | None = None  # (meter, beat in the bar) per slot (`bar_positions`)

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
        return cls(melody, key, slot, slot_melody(melody, key, slot), phrase_ends(melody, slot),
                   bar_positions(melody, slot))  # fmt: skip

    def viterbi(self, model: HarmonyModel) -> list[int]:
        """The exact optimum of `model`'s objective on this melody."""
        return model.viterbi(self.pitches, self.ends, self.key.mode, self.positions)

    def score(self, model: HarmonyModel, path: Sequence[int]) -> float:
        """`model`'s objective of one chord sequence on this melody."""
        return model.total_score(path, self.pitches, self.ends, self.key.mode, self.positions)

    def solution(self, chord_indices: Sequence[int], texture: str = "satb") -> Harmonization:
        """The chords (indices into the key's vocabulary), voiced under the melody in `texture`."""
        vocab = vocabulary(self.key.mode)
        chords = [vocab[int(i)] for i in chord_indices]
        origin = slot_origin(self.melody, self.slot_ql)
        voiced = voice_chords(chords, self.key, self.slot_ql, origin, self.pitches.sum(axis=1) > 0, self.melody,
                              texture)  # fmt: skip
        return Harmonization(self.key, self.slot_ql, chords, voiced)


def harmonize(
    melody: Score,
    model: HarmonyModel,
    *,
    key: Key | None = None,
    chords_per_bar: int | None = None,
    texture: str = "satb",
) -> Harmonization:
    """Harmonize the first part of `melody` with the Viterbi optimum of `model`, voiced in `texture`.

    Args:
        melody: a score whose first part is the tune (any meter, any key).
        model: a fitted HarmonyModel.
        key: the key (default: the score's, else estimated).
        chords_per_bar: slots per bar (default: one per beat).
        texture: "satb" (four parts), "chords" (block chords and a bass) or "oompah".
    """
    problem = HarmonyProblem.of(melody, model, key=key, chords_per_bar=chords_per_bar)
    return problem.solution(problem.viterbi(model), texture)


def voice_chords(
    chords: list[Chord],
    key: Key,
    slot_ql: float,
    origin: float,
    active: np.ndarray,
    melody: Score,
    texture: str = "satb",
) -> Score:
    """The chords laid out under the melody (`cadenza.symbolic.voicing`): four parts whose voices together hold
    each chord, led without parallels (`satb`), or a lead-sheet accompaniment (`chords`, `oompah`)."""
    from cadenza.symbolic.voicing import accompany, voice_satb

    voicings = voice_satb(chords, key, slot_ql, origin, active, melody)
    return accompany(voicings, key, slot_ql, origin, melody, texture)


def chord_accuracy(predicted: Sequence[Chord | None], reference: Sequence[Chord | None]) -> tuple[int, int]:
    """(matches, compared): beats where root and quality agree, over beats where the reference has a chord."""
    pairs = [(p, r) for p, r in zip(predicted, reference) if r is not None]
    hits = sum(p is not None and (p.root, p.quality) == (r.root, r.quality) for p, r in pairs)
    return hits, len(pairs)


CARD_TRAINED = """# Chord HMM of `{corpus}` (cadenza)

The tables of `cadenza.symbolic.harmonize.HarmonyModel` learned by `cadenza harmonize train --corpus {corpus}`:
per mode, log-probabilities of the first chord, of chord-to-chord transitions, of the chord at a phrase end and
of the melody's pitch classes given the chord; per meter, the probability that the chord changes on each beat
of the bar (harmonic rhythm). Chords per beat come from the four-part texture (`label_beats`) or from the
lead sheet's chord symbols mapped onto the key's vocabulary (`symbol_labels`). Add-0.5 smoothing.

**Data.** {train} pieces of the train split; {valid} of the valid split chose the weights; {test} held out.

**Chosen.** Melody weight {melody:g}, transition weight {transition:g}; harmonic rhythm: {rhythm}.

| weights tried (label accuracy, valid split: root + quality per beat) | accuracy |
|---|---|
{tried}

**Measured.** Label accuracy on the held-out pieces: {test_acc:.4f}. Trained in {seconds:.1f} s on one CPU core.
`cadenza harmonize --evaluate --corpus {corpus} --model DIR` measures the chords it sounds.
"""

CARD = """# Chord HMM of `{corpus}` (cadenza)

The tables of `cadenza.symbolic.harmonize.HarmonyModel` (start, transition, cadence and melody-emission
log-probabilities per mode), learned from the four-part chorales of the train split of `{corpus}` with add-0.5
smoothing. `cadenza harmonize --evaluate` measures it on the held-out chorales.
"""
