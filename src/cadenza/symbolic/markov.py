"""Markov-chain melodies: a multiple-viewpoint, variable-order model (IDyOM-style) and the course's chain.

`MarkovMelody` predicts each note's pitch by combining PPM-C models over several viewpoints (pitch, interval,
scale degree) with an entropy-weighted geometric mean (Pearce, Conklin & Wiggins 2005), and its duration with
a PPM-C model over durations. Melodies are transposed to tonic C first (a key-normalized model); major and
minor tunes train separate model sets. It generates under constraints: bars, meter, key, range, end on the
tonic.

`CourseChain` is the course's reference ("Melody generation with Markov chains"): a first-order chain over
the states seen in training, start distribution = unigram frequencies, no smoothing, no rests, no end state,
trained on all melodies joined into one. It is kept as the `course` preset to compare side by side.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from cadenza.core.score import Key, Note, Part, Score, ScoreError, TimeSignature
from cadenza.errors import InputError
from cadenza.evaluate.key import estimate_key
from cadenza.symbolic.ppm import PPM, load_json_gz, save_json_gz
from cadenza.symbolic.viewpoints import DURATIONS, REST, VIEWPOINTS, Event, melody_events

FORMAT_VERSION = 1
KIND = "markov-melody"
SHIPPED = "markov-essen"
N_PITCH = 129  # candidates: MIDI 0..127 and 128 = rest


@dataclass(frozen=True)
class MarkovConfig:
    order: int = 4
    pitch_viewpoints: tuple[str, ...] = ("pitch", "interval", "scale_degree")
    rests: bool = True
    bias: float = 1.0  # exponent of the entropy weights in the viewpoint combination


def _key_of(score: Score) -> Key:
    return score.key or estimate_key(score)


def normalized_events(score: Score, *, rests: bool) -> tuple[list[Event], str]:
    """Melody events transposed to tonic C (C major or C minor), and the mode."""
    key = _key_of(score)
    shift = -key.tonic if key.tonic <= 6 else 12 - key.tonic  # the nearer of the two Cs
    events = [e if e.is_rest else Event(e.pitch + shift, e.duration) for e in melody_events(score, rests=rests)]
    return [e for e in events if e.is_rest or 0 <= e.pitch <= 127], key.mode


class MarkovMelody:
    """Multiple-viewpoint PPM-C melody model; see the module docstring."""

    kind: ClassVar[str] = KIND

    def __init__(self, cfg: MarkovConfig | None = None) -> None:
        self.cfg = cfg or MarkovConfig()
        for name in self.cfg.pitch_viewpoints:
            if name not in VIEWPOINTS:
                raise InputError("viewpoint", f"unknown viewpoint {name!r} (known: {', '.join(VIEWPOINTS)})")
        self.models: dict[str, dict[str, PPM]] = {}  # mode -> viewpoint -> model
        self.n_pieces: dict[str, int] = {}

    # ------------------------------------------------------------------------------------ training

    def fit(self, scores: Sequence[Score]) -> MarkovMelody:
        """Train on the melodies of `scores` (their first parts); pieces without notes are skipped."""
        names = (*self.cfg.pitch_viewpoints, "duration")
        for s in scores:
            try:
                events, mode = normalized_events(s, rests=self.cfg.rests)
            except ScoreError:
                continue
            models = self.models.setdefault(mode, {v: PPM(VIEWPOINTS[v].size, self.cfg.order) for v in names})
            self.n_pieces[mode] = self.n_pieces.get(mode, 0) + 1
            for v in names:
                models[v].update(VIEWPOINTS[v].sequence(events, 0))
        if not self.models:
            raise InputError("corpus", "no melody with notes to train on")
        return self

    # ---------------------------------------------------------------------------------- prediction

    def _models_for(self, mode: str) -> dict[str, PPM]:
        if mode in self.models:
            return self.models[mode]
        return max(self.models.values(), key=lambda m: m["duration"].n_contexts())  # the better-trained mode

    def pitch_distribution(self, events: Sequence[Event], mode: str) -> np.ndarray:
        """P(next pitch) over the 129 candidates (MIDI 0..127, 128 = rest) and the end: shape [130]."""
        models = self._models_for(mode)
        dists, weights = [], []
        prev = next((e.pitch for e in reversed(events) if not e.is_rest), None)
        for name in self.cfg.pitch_viewpoints:
            vp = VIEWPOINTS[name]
            history = vp.sequence(list(events), 0)
            p_sym = models[name].distribution(history)
            sym = _candidate_symbols(name, prev)  # symbol of each pitch candidate
            mult = np.bincount(sym, minlength=vp.size)[sym]  # candidates sharing a symbol share its mass
            p = np.empty(N_PITCH + 1)
            p[:N_PITCH] = p_sym[sym] / mult
            p[N_PITCH] = p_sym[vp.size]
            p /= p.sum()
            h = -(p * np.log2(p)).sum() / math.log2(len(p))  # relative entropy, 0..1
            dists.append(p)
            weights.append(max(h, 1e-6) ** -self.cfg.bias)
        w = np.array(weights) / sum(weights)
        logp = sum(wi * np.log(d) for wi, d in zip(w, dists))
        out = np.exp(logp - logp.max())
        return out / out.sum()

    def duration_distribution(self, events: Sequence[Event], mode: str, *, rest: bool) -> np.ndarray:
        """P(duration index) of the next event given whether it is a rest: shape [len(DURATIONS)]."""
        p = self._models_for(mode)["duration"].distribution(VIEWPOINTS["duration"].sequence(list(events), 0))
        n = len(DURATIONS)
        half = p[n : 2 * n] if rest else p[:n]
        return half / half.sum()

    def note_bits(self, score: Score) -> tuple[np.ndarray, np.ndarray]:
        """-log2 P of each note's pitch, and of its duration given that a note follows: two arrays [n_notes].

        Notes only (no rests, no end), each predicted from the notes before it: the protocol of Pearce &
        Wiggins. Pitch + duration bits is the joint information content of the note.
        """
        events, mode = normalized_events(score, rests=False)
        pitch_bits, dur_bits = np.empty(len(events)), np.empty(len(events))
        for i, e in enumerate(events):
            p = self.pitch_distribution(events[:i], mode)[:128]
            pitch_bits[i] = -math.log2(p[e.pitch] / p.sum())
            d = self.duration_distribution(events[:i], mode, rest=False)
            dur_bits[i] = -math.log2(d[_dur_index(e.duration)])
        return pitch_bits, dur_bits

    def log2_probs(self, score: Score) -> np.ndarray:
        """-log2 P(pitch) of each note of the melody (see `note_bits`)."""
        return self.note_bits(score)[0]

    # ---------------------------------------------------------------------------------- generation

    def generate(
        self,
        *,
        bars: int = 8,
        key: Key | None = None,
        time_signature: TimeSignature | None = None,
        pitch_range: tuple[int, int] = (55, 84),
        end_on_tonic: bool = True,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        tempo_bpm: float = 100.0,
        pitch_bias: Callable[[float], np.ndarray] | None = None,
    ) -> Score:
        """Sample a melody of `bars` bars that fills every bar exactly (no note crosses a bar line).

        Args:
            bars: length in bars.
            key: key of the result (default C major); its mode picks the model trained on that mode.
            time_signature: meter (default 4/4).
            pitch_range: lowest and highest MIDI pitch allowed (in the requested key).
            end_on_tonic: the last note is the tonic.
            temperature: > 1 flattens, < 1 sharpens the model's distributions.
            rng: numpy generator (a seed reproduces the melody).
            pitch_bias: onset (quarter lengths) -> weights [128] over MIDI pitches in the requested key, multiplied
                into the model's distribution (e.g. favour chord tones on strong beats).
        """
        if bars < 1:
            raise InputError("--bars", "must be at least 1")
        key = key or Key(0)
        ts = time_signature or TimeSignature(4, 4)
        rng = rng or np.random.default_rng()
        shift = key.tonic if key.tonic <= 6 else key.tonic - 12  # C -> the key's tonic, nearest way
        lo, hi = pitch_range[0] - shift, pitch_range[1] - shift
        if hi - lo < 11:
            raise InputError("--range", f"{pitch_range[0]}..{pitch_range[1]} is narrower than an octave")
        bar_len, total = ts.bar_length, bars * ts.bar_length
        durs = np.array(DURATIONS)
        events: list[Event] = []
        t = 0.0
        while t < total - 1e-9:
            in_bar = bar_len - (t % bar_len)
            p_pitch = self.pitch_distribution(events, key.mode)[:N_PITCH].copy()
            p_pitch[: max(lo, 0)] = 0
            p_pitch[min(hi, 127) + 1 : 128] = 0
            if pitch_bias is not None:  # the bias is in the requested key; the model works in C
                p_pitch[:128] *= np.roll(pitch_bias(t), -shift)
            if not self.cfg.rests or not events or events[-1].is_rest:
                p_pitch[128] = 0  # no rest first, none twice in a row
            fits = durs <= in_bar + 1e-9
            p_note = self.duration_distribution(events, key.mode, rest=False) * fits
            p_rest = self.duration_distribution(events, key.mode, rest=True) * fits
            joint = np.outer(p_pitch[:128], p_note)  # [128 pitches, durations]
            joint = np.vstack([joint, p_pitch[128] * p_rest[None, :]])
            ends = np.abs(t + durs - total) < 1e-9
            if end_on_tonic:
                not_tonic = np.array([(p % 12) != 0 for p in range(128)] + [True])
                joint[np.ix_(not_tonic, ends)] = 0
            else:
                joint[128, ends] = 0  # never end on a rest
            if joint.sum() <= 0:  # nothing fits: close the bar with the nearest tonic
                pitch = min(range(max(lo, 0), min(hi, 127) + 1), key=lambda p: (p % 12 != 0, abs(p - 67)))
                events.append(Event(pitch, in_bar))
                t += in_bar
                continue
            if temperature != 1.0:
                joint = np.power(joint, 1.0 / temperature)
            flat = joint.ravel() / joint.sum()
            k = int(rng.choice(flat.size, p=flat))
            pi, di = divmod(k, len(DURATIONS))
            events.append(Event(REST if pi == 128 else pi, float(durs[di])))
            t += float(durs[di])
        notes, t = [], 0.0
        for e in events:
            if not e.is_rest:
                notes.append(Note(e.pitch + shift, round(t, 6), e.duration))
            t += e.duration
        part = Part(tuple(notes), name="melody", program=73)
        return Score((part,), key=key, time_signature=ts, tempo_bpm=tempo_bpm, title="Markov melody")

    # ---------------------------------------------------------------------------------- storage

    def save_pretrained(self, folder: str | Path, *, card: str = "") -> Path:
        """Write `folder`/model.json.gz (gzipped JSON count tables, never pickle) and card.md."""
        from cadenza.io.files import write_text_atomic

        data = {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "config": asdict(self.cfg),
            "n_pieces": self.n_pieces,
            "models": {mode: {v: m.to_dict() for v, m in ms.items()} for mode, ms in self.models.items()},
        }
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        save_json_gz(data, out / "model.json.gz")
        if card:
            write_text_atomic(out / "card.md", card)
        return out

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path | None = None) -> MarkovMelody:
        """A model folder (or its model.json.gz, or a shipped model by name; default: models/markov-essen)."""
        from cadenza.pretrained import expect_kind, resolve

        path = resolve(name_or_dir or SHIPPED)
        if path.is_dir():
            expect_kind(path, KIND)
            path = path / "model.json.gz"
        data = load_json_gz(path)
        if data.get("kind") != KIND:
            raise InputError(path, f"holds a {data.get('kind', 'unknown')!r} model, not a Markov melody model")
        if data.get("format_version", 0) > FORMAT_VERSION:
            raise InputError(path, f"format version {data['format_version']} is newer than this cadenza reads")
        cfg = data["config"]
        m = cls(MarkovConfig(**{**cfg, "pitch_viewpoints": tuple(cfg["pitch_viewpoints"])}))
        m.n_pieces = data["n_pieces"]
        m.models = {mode: {v: PPM.from_dict(d) for v, d in ms.items()} for mode, ms in data["models"].items()}
        return m


CARD = """# Markov melody model of `{corpus}` (cadenza)

A multiple-viewpoint PPM-C model (`cadenza.symbolic.markov.MarkovMelody`), order {order}, pitch viewpoints
{viewpoints}, trained on the train split of `{corpus}` ({counts} melodies) in {seconds:.1f} s.

- Config: `{config}`
- Command: `{command}`

`cadenza markov eval --corpus {corpus}` measures it by k-fold cross-validation (bits per note).
"""


def _dur_index(duration: float) -> int:
    return int(np.abs(np.array(DURATIONS) - duration).argmin())


def _candidate_symbols(viewpoint: str, prev: int | None) -> np.ndarray:
    """The viewpoint symbol of each of the 129 pitch candidates (MIDI 0..127, rest), given the last pitch."""
    pitches = np.arange(128)
    if viewpoint == "pitch":
        return np.append(pitches, 128)
    if viewpoint == "scale_degree":
        return np.append(pitches % 12, 12)
    if viewpoint == "interval":
        notes = np.full(128, 256) if prev is None else pitches - prev + 127
        return np.append(notes, 255)
    raise ValueError(f"viewpoint {viewpoint!r} cannot predict pitch")


# ------------------------------------------------------------------------------------------ course preset


@dataclass
class CourseChain:
    """The course's first-order chain: unigram start distribution, unsmoothed transitions, no rests, no end.

    States are whatever the training data holds (the course lists them by hand); a state never seen has
    probability zero, which is where the course code raises KeyError.
    """

    joint: bool = False  # states are (pitch, duration) pairs instead of pitches
    states: list[tuple[int, float] | int] = field(default_factory=list)
    initial: np.ndarray = field(default_factory=lambda: np.zeros(0))
    transitions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def _state(self, e: Event) -> tuple[int, float] | int:
        return (e.pitch, e.duration) if self.joint else e.pitch

    def fit(self, scores: Sequence[Score]) -> CourseChain:
        seq = [self._state(e) for s in scores for e in melody_events(s, rests=False)]  # one long melody
        self.states = sorted(set(seq))
        index = {s: i for i, s in enumerate(self.states)}
        n = len(self.states)
        self.initial = np.bincount([index[s] for s in seq], minlength=n) / len(seq)
        counts = np.zeros((n, n))
        for a, b in zip(seq, seq[1:]):
            counts[index[a], index[b]] += 1
        rows = counts.sum(axis=1, keepdims=True)
        self.transitions = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        return self

    def probs(self, score: Score) -> np.ndarray:
        """P of each note of the melody under the chain; 0 where a state or transition was never seen."""
        index = {s: i for i, s in enumerate(self.states)}
        seq = [self._state(e) for e in melody_events(score, rests=False)]
        out = np.zeros(len(seq))
        for i, s in enumerate(seq):
            if s not in index:
                continue
            if i == 0:
                out[i] = self.initial[index[s]]
            elif seq[i - 1] in index:
                out[i] = self.transitions[index[seq[i - 1]], index[s]]
        return out

    def generate(self, n_notes: int, rng: np.random.Generator) -> Score:
        """The course's generation: a start state from the unigram distribution, then the transition rows."""
        i = int(rng.choice(len(self.states), p=self.initial))
        path = [i]
        for _ in range(n_notes - 1):
            row = self.transitions[path[-1]]
            i = int(rng.choice(len(self.states), p=row)) if row.sum() > 0 else int(rng.choice(len(self.states)))
            path.append(i)
        notes, t = [], 0.0
        for i in path:
            s = self.states[i]
            pitch, dur = s if isinstance(s, tuple) else (s, 1.0)
            notes.append(Note(int(pitch), t, float(dur)))
            t += float(dur)
        return Score((Part(tuple(notes), name="melody", program=73),), title="course Markov chain")


__all__ = ["CourseChain", "MarkovConfig", "MarkovMelody", "normalized_events"]
