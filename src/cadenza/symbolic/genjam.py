"""A GenJam-style improviser (Biles 1994): a measure population, a phrase population, musical mutations.

J. A. Biles, "GenJam: A Genetic Algorithm for Generating Jazz Solos", ICMC 1994.

- A measure is 8 eighth-note events: 0 = rest, 15 = hold the previous note, 1..14 = a step of the chord-scale
  of the chord under it (two octaves from the chord root below middle C's octave), so that one measure
  sounds right over any chord.
- A phrase is 4 indices into the measure population.
- Fitness comes from a critic (`--interactive`: a listener's good/bad ratings, as in GenJam; otherwise an
  automatic critic: the Markov melody model's log-likelihood plus rules on chord tones, leaps and rests).
- Breeding is GenJam's tournament: 4 individuals, the 2 best breed (one-point crossover, then one of the
  musical mutations), their 2 children replace the 2 worst. Measure mutations: reverse, rotate, invert,
  sort up or down, transpose. Phrase mutations: reverse, rotate, genetic repair (the worst measure replaced
  by the best), super-phrase (the best measures), lick thinner (the most used measure replaced), orphan
  phrase (measures no phrase plays).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cadenza.core.score import Key, Note, Part, Score, ScoreError, TimeSignature
from cadenza.errors import InputError

REST, HOLD = 0, 15
EVENTS = 8  # eighth notes per 4/4 measure
SCALES = {  # chord-scale per quality, semitones above the root
    "maj": (0, 2, 4, 5, 7, 9, 11), "maj7": (0, 2, 4, 6, 7, 9, 11), "7": (0, 2, 4, 5, 7, 9, 10),
    "min": (0, 2, 3, 5, 7, 9, 10), "min7": (0, 2, 3, 5, 7, 9, 10), "hdim7": (0, 1, 3, 5, 6, 8, 10),
    "dim7": (0, 2, 3, 5, 6, 8, 9, 11), "dim": (0, 2, 3, 5, 6, 8, 9, 11),
}  # fmt: skip
CHORD_TONES = {"maj": (0, 4, 7), "maj7": (0, 4, 7, 11), "7": (0, 4, 7, 10), "min": (0, 3, 7), "min7": (0, 3, 7, 10),
               "hdim7": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "dim": (0, 3, 6)}  # fmt: skip
_SYMBOL = re.compile(r"^([A-G])([#b]?)(maj7|M7|m7b5|ø7?|m7|min7|dim7|o7|dim|o|m|min|7|maj|)$")
_QUALITY = {"maj7": "maj7", "M7": "maj7", "m7b5": "hdim7", "ø": "hdim7", "ø7": "hdim7", "m7": "min7",
            "min7": "min7", "dim7": "dim7", "o7": "dim7", "dim": "dim", "o": "dim", "m": "min", "min": "min",
            "7": "7", "maj": "maj", "": "maj"}  # fmt: skip


@dataclass(frozen=True)
class JazzChord:
    root: int  # pitch class
    quality: str
    symbol: str

    def pitch(self, step: int) -> int:
        """MIDI pitch of chord-scale step 1..14 (two octaves from the root in the octave below C5)."""
        scale = SCALES[self.quality]
        octave, degree = divmod(step - 1, len(scale))
        return 60 + (self.root - 60) % 12 - (12 if self.root % 12 >= 7 else 0) + 12 * octave + scale[degree]


def parse_chords(text: str) -> list[JazzChord]:
    """ "Dm7 G7 Cmaj7" (bars may also be separated by |) -> chords, one per bar.

    Raises:
        InputError: a symbol it cannot read (one line naming it).
    """
    out = []
    for sym in text.replace("|", " ").split():
        m = _SYMBOL.match(sym)
        if m is None:
            raise InputError("--chords", f"cannot parse chord symbol {sym!r} (e.g. C, Am, D7, Fmaj7, Bm7b5, Co7)")
        root = ({"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1)] + {"#": 1, "b": -1}.get(
            m.group(2), 0)) % 12  # fmt: skip
        out.append(JazzChord(root, _QUALITY[m.group(3)], sym))
    if not out:
        raise InputError("--chords", "no chord symbols given")
    return out


@dataclass(frozen=True)
class GenJamConfig:
    measures: int = 64
    phrases: int = 48
    generations: int = 300  # tournaments per population
    seed: int = 0


def measure_notes(measure: np.ndarray, chord: JazzChord, start: float) -> list[Note]:
    """The notes of one measure over one chord, starting at `start` (quarter lengths)."""
    notes: list[Note] = []
    for i, ev in enumerate(measure):
        t = start + 0.5 * i
        if ev == HOLD and notes and abs(notes[-1].offset - t) < 1e-9:
            last = notes[-1]
            notes[-1] = Note(last.pitch, last.onset, last.duration + 0.5, last.velocity)
        elif REST < ev < HOLD:
            notes.append(Note(chord.pitch(int(ev)), t, 0.5, 90 if i % 2 == 0 else 72))
    return notes


# ------------------------------------------------------------------------------------------------ mutations


def _measure_mutation(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    op = int(rng.integers(0, 6))
    m = m.copy()
    notes = (m > REST) & (m < HOLD)
    if op == 0:  # reverse
        return m[::-1].copy()
    if op == 1:  # rotate
        return np.roll(m, int(rng.integers(1, EVENTS)))
    if op == 2:  # invert: a step k becomes 15 - k
        m[notes] = HOLD - m[notes]
    elif op in (3, 4):  # sort the notes up or down, rests and holds in place
        m[notes] = np.sort(m[notes])[:: 1 if op == 3 else -1]
    else:  # transpose by a few scale steps
        m[notes] = np.clip(m[notes] + int(rng.choice([-3, -2, -1, 1, 2, 3])), 1, 14)
    return m


def _phrase_mutation(p: np.ndarray, measures: np.ndarray, m_fit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    op = int(rng.integers(0, 6))
    p = p.copy()
    if op == 0:
        return p[::-1].copy()
    if op == 1:
        return np.roll(p, int(rng.integers(1, len(p))))
    if op == 2:  # genetic repair: the phrase's worst measure becomes the population's best
        p[int(np.argmin(m_fit[p]))] = int(np.argmax(m_fit))
    elif op == 3:  # super-phrase: the best measures
        return np.argsort(m_fit)[::-1][: len(p)].copy()
    elif op == 4:  # lick thinner: the most used measure of the phrase replaced by a random one
        most = Counter(p.tolist()).most_common(1)[0][0]
        p[p == most] = int(rng.integers(0, len(measures)))
    else:  # orphan phrase: measures no phrase plays
        p = rng.integers(0, len(measures), len(p))
    return p


def _tournament(fit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    four = rng.choice(len(fit), 4, replace=False)
    order = four[np.argsort(fit[four])[::-1]]
    return order[:2], order[2:]  # parents, replaced


# ------------------------------------------------------------------------------------------------ critic

Critic = Callable[[list[Note], Sequence[JazzChord], float], float]


def rule_critic(notes: list[Note], chords: Sequence[JazzChord], start: float) -> float:
    """Chord tones on the beats, stepwise motion, a little silence, no long holds: roughly GenJam's taste."""
    if not notes:
        return -3.0
    score = 0.0
    for n in notes:
        chord = chords[int((n.onset - start) // 4) % len(chords)]
        on_beat = abs(n.onset % 1.0) < 1e-9
        tone = (n.pitch - chord.root) % 12 in CHORD_TONES[chord.quality]
        score += (1.0 if tone else -0.7) if on_beat else 0.2
    leaps = [abs(b.pitch - a.pitch) for a, b in zip(notes, notes[1:])]
    score -= sum(max(0, leap - 5) for leap in leaps) * 0.25
    density = len(notes) / (4 * EVENTS)
    score -= 4 * abs(density - 0.6)
    return score / 4


def markov_critic(model: object) -> Critic:
    """Rules plus the log-likelihood of the phrase under a Markov melody model (per note, bits)."""
    from cadenza.symbolic.markov import MarkovMelody

    assert isinstance(model, MarkovMelody)

    def critic(notes: list[Note], chords: Sequence[JazzChord], start: float) -> float:
        rules = rule_critic(notes, chords, start)
        if len(notes) < 2:
            return rules
        s = Score((Part(tuple(notes)),), key=Key(chords[0].root, "minor" if "min" in chords[0].quality else "major"))
        return rules - 0.3 * float(model.log2_probs(s).mean())

    return critic


@dataclass
class GenJam:
    """The two populations and their evolution over a chord progression."""

    chords: list[JazzChord]
    critic: Critic = rule_critic
    cfg: GenJamConfig = field(default_factory=GenJamConfig)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.cfg.seed)
        weights = np.r_[0.15, np.full(14, 0.7 / 14), 0.15]
        self.measures = self.rng.choice(16, (self.cfg.measures, EVENTS), p=weights / weights.sum())
        self.phrases = self.rng.integers(0, self.cfg.measures, (self.cfg.phrases, 4))
        self.log: list[dict[str, float]] = []

    def phrase_notes(self, phrase: np.ndarray, bar: int) -> list[Note]:
        notes: list[Note] = []
        for k, mi in enumerate(phrase):
            chord = self.chords[(bar + k) % len(self.chords)]
            notes += measure_notes(self.measures[mi], chord, 4.0 * (bar + k))
        return notes

    def phrase_fitness(self, rate: Callable[[int], float] | None = None) -> np.ndarray:
        """Fitness of every phrase over the first four bars of the progression (or the listener's rating)."""
        if rate is not None:
            return np.array([rate(i) for i in range(len(self.phrases))], dtype=float)
        return np.array([self.critic(self.phrase_notes(p, 0), self.chords, 0.0) for p in self.phrases])

    def measure_fitness(self, p_fit: np.ndarray) -> np.ndarray:
        """A measure's fitness: the mean fitness of the phrases that play it (unplayed: the population mean)."""
        total, count = np.zeros(len(self.measures)), np.zeros(len(self.measures))
        for p, f in zip(self.phrases, p_fit):
            np.add.at(total, p, f)
            np.add.at(count, p, 1)
        return np.where(count > 0, total / np.maximum(count, 1), p_fit.mean())

    def evolve(self, generations: int | None = None, rate: Callable[[int], float] | None = None) -> None:
        """Run GenJam's tournaments on both populations, logging best and mean phrase fitness.

        With `rate` (phrase index -> rating), the listener's ratings are the phrase fitness, as in GenJam;
        otherwise the critic scores the phrases, re-scoring only those a tournament changed.
        """
        p_fit = self.phrase_fitness(rate)
        for gen in range(generations or self.cfg.generations):
            m_fit = self.measure_fitness(p_fit)
            parents, worst_m = _tournament(m_fit, self.rng)
            cut = int(self.rng.integers(1, EVENTS))
            a, b = self.measures[parents[0]], self.measures[parents[1]]
            for w, child in zip(worst_m, (np.r_[a[:cut], b[cut:]], np.r_[b[:cut], a[cut:]])):
                self.measures[w] = _measure_mutation(child, self.rng)
            parents, worst_p = _tournament(p_fit, self.rng)
            cut = int(self.rng.integers(1, 4))
            a, b = self.phrases[parents[0]], self.phrases[parents[1]]
            for w, child in zip(worst_p, (np.r_[a[:cut], b[cut:]], np.r_[b[:cut], a[cut:]])):
                self.phrases[w] = _phrase_mutation(child, self.measures, m_fit, self.rng)
            if rate is None:
                changed = set(worst_p.tolist()) | {i for i, p in enumerate(self.phrases) if np.isin(p, worst_m).any()}
                for i in changed:
                    p_fit[i] = self.critic(self.phrase_notes(self.phrases[i], 0), self.chords, 0.0)
            else:
                p_fit[worst_p] = p_fit[parents].mean()  # children inherit their parents' rating until rated
            self.log.append({"generation": gen + 1, "best": float(p_fit.max()), "mean": float(p_fit.mean())})

    def solo(self, bars: int, tempo_bpm: float = 140.0) -> Score:
        """A solo of `bars` bars: for each 4-bar span, the phrase the critic likes best over those chords,
        each phrase used once while others remain; with a backing track (chords and walking roots)."""
        melody: list[Note] = []
        used: set[int] = set()
        for bar in range(0, bars, 4):
            scores = [
                -np.inf if i in used and len(used) < len(self.phrases) else
                self.critic(self.phrase_notes(p, bar), self.chords, 4.0 * bar)
                for i, p in enumerate(self.phrases)
            ]  # fmt: skip
            best = int(np.argmax(scores))
            used.add(best)
            melody += [n for n in self.phrase_notes(self.phrases[best], bar) if n.onset < 4.0 * bars]
        comp, bass = [], []
        for bar in range(bars):
            chord = self.chords[bar % len(self.chords)]
            tones = CHORD_TONES[chord.quality]
            for beat in (0.0, 2.0):  # Charleston-ish comping on beats 1 and 3
                comp += [Note(52 + (chord.root + t - 52) % 12, 4.0 * bar + beat, 1.5, 60) for t in tones]
            for beat in range(4):  # walking: root, third, fifth, approach
                step = (0, tones[1], tones[2], tones[-1])[beat]
                bass.append(Note(36 + (chord.root + step - 36) % 12, 4.0 * bar + beat, 1.0, 75))
        parts = (
            Part(tuple(melody), name="solo", program=65),
            Part(tuple(comp), name="piano", program=0),
            Part(tuple(bass), name="bass", program=32),
        )
        if not melody:
            raise ScoreError("the improviser produced only rests; try another --seed")
        return Score(parts, key=Key(self.chords[-1].root), time_signature=TimeSignature(4, 4), tempo_bpm=tempo_bpm,
                     title="GenJam-style solo")  # fmt: skip
