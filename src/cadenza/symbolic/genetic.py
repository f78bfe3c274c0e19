"""Genetic algorithms: a vectorized GA, the harmonizer built on it, and the course's GA harmonizer.

`evolve` is a generational GA over integer genomes: tournament selection, elitism, one-point crossover,
per-gene mutation, a seed, and a convergence log (best and mean fitness per generation). The fitness
function takes the whole population [P, L] and returns [P] fitnesses, so that it runs as a few numpy
operations per generation. By default it is memetic (Moscato 1989): every child is improved by the problem's
local search before it competes, the population and the generations are sized from the genome, and the run
stops when the best has not improved for a while.

`ga_harmonize` optimizes the objective of `cadenza.symbolic.harmonize.HarmonyModel` (the same one Viterbi
solves exactly), so the two can be compared; its local search gives each slot the best chord between its
neighbours. A plain GA, without it, stayed 6% below the optimum on the Bach chorales and further on folk tunes.

`CourseHarmonizer` reproduces the course's reference code
("Melody harmonization with genetic algorithms"): C major, 4/4, one chord per bar, melody notes matched to
chords by the first letter of their names, fitness-proportional selection, no elitism, the best of the last
generation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cadenza.core.score import Key, Score, ScoreError
from cadenza.symbolic.chords import Chord, vocabulary
from cadenza.symbolic.harmonize import Harmonization, HarmonyModel, HarmonyProblem, voice_chords


@dataclass(frozen=True)
class GAConfig:
    """A memetic GA by default: sized from the genome, every child improved by local search, stopped when the
    best has not improved for `stall` generations. `local_search=False, stall=None` with a population and a
    number of generations is the plain generational GA."""

    population: int | None = None  # None: 2 x genes, within 32..128
    generations: int | None = None  # None: 4 x genes, within 100..1000 (the stall rule usually stops earlier)
    tournament: int = 3
    elite: int = 2
    crossover_rate: float = 0.9
    mutation_rate: float | None = None  # per gene; None = 1.5 / genome length
    block_mutation: float = 0.5  # share of children with a run of 2..4 genes re-drawn
    local_search: bool = True  # improve every child by the problem's local search (when it has one)
    stall: int | None = 40  # stop after this many generations without a better best; None: run them all
    restarts: int = 6  # at a stall, first start afresh this many times (the best so far remembered)
    seed: int = 0

    def sized(self, n_genes: int) -> tuple[int, int]:
        """(population, generations) for a genome of `n_genes`."""
        population = self.population or int(np.clip(2 * n_genes, 32, 128))
        generations = self.generations if self.generations is not None else int(np.clip(4 * n_genes, 100, 1000))
        return population, generations


@dataclass
class GAResult:
    best: np.ndarray  # [L] genome
    best_fitness: float
    log: list[dict[str, float]] = field(default_factory=list)  # per generation: best so far, population mean
    population: int = 0
    generations: int = 0  # run (fewer than asked when the stall rule stopped it)


def evolve(
    fitness: Callable[[np.ndarray], np.ndarray],
    n_genes: int,
    n_alleles: int,
    cfg: GAConfig,
    *,
    seeds: np.ndarray | None = None,
    local_search: Callable[..., np.ndarray] | None = None,
) -> GAResult:
    """Maximize `fitness` over genomes of `n_genes` integers in [0, n_alleles).

    Args:
        fitness: population [P, L] -> fitness [P] (vectorized).
        n_genes: genome length L.
        n_alleles: number of values a gene takes.
        cfg: population size, generations, tournament size, elitism, rates, stall rule, seed.
        seeds: optional genomes [S, L] put into the first population (the rest is random).
        local_search: (population [P, L], thorough) -> improved population, never worse; with
            `cfg.local_search`, applied to the first population, to every generation's children, and thoroughly
            to its elite (a memetic algorithm).
    """
    rng = np.random.default_rng(cfg.seed)
    p, generations = cfg.sized(n_genes)
    improve = local_search if cfg.local_search else None
    mutation = cfg.mutation_rate if cfg.mutation_rate is not None else min(1.0, 1.5 / max(n_genes, 1))
    pop = rng.integers(0, n_alleles, (p, n_genes))
    if seeds is not None:
        pop[: len(seeds)] = seeds[:p]
    if improve is not None:
        pop = improve(pop)
    fit = fitness(pop)
    best_i = int(fit.argmax())
    best, best_fit = pop[best_i].copy(), float(fit[best_i])
    log = [{"generation": 0, "best": best_fit, "mean": float(fit.mean())}]
    since_better, restarts_left = 0, cfg.restarts
    for gen in range(1, generations + 1):
        elite = pop[np.argsort(fit)[::-1][: cfg.elite]]
        n_children = p - len(elite)
        # tournament selection: the fittest of `tournament` random individuals, for each parent slot
        contenders = rng.integers(0, p, (2 * n_children, cfg.tournament))
        parents = pop[contenders[np.arange(2 * n_children), fit[contenders].argmax(axis=1)]]
        mothers, fathers = parents[:n_children], parents[n_children:]
        cut = rng.integers(1, max(n_genes, 2), n_children)[:, None]
        do_cross = rng.random(n_children)[:, None] < cfg.crossover_rate
        take_father = (np.arange(n_genes)[None, :] >= cut) & do_cross
        children = np.where(take_father, fathers, mothers)
        mutate = rng.random(children.shape) < mutation
        if cfg.block_mutation:  # also re-draw a run of 2..4 genes in some children: a jump that local search
            # cannot undo one gene at a time
            start = rng.integers(0, n_genes, n_children)[:, None]
            length = rng.integers(2, 5, n_children)[:, None]
            block = (np.arange(n_genes)[None, :] >= start) & (np.arange(n_genes)[None, :] < start + length)
            mutate |= block & (rng.random(n_children)[:, None] < cfg.block_mutation)
        children = np.where(mutate, rng.integers(0, n_alleles, children.shape), children)
        if improve is not None:
            children = improve(children)
            elite = improve(elite, True)  # the few best get the thorough search
        pop = np.vstack([elite, children])
        fit = fitness(pop)
        i = int(fit.argmax())
        since_better += 1
        if fit[i] > best_fit + 1e-12:
            best, best_fit, since_better = pop[i].copy(), float(fit[i]), 0
        log.append({"generation": gen, "best": best_fit, "mean": float(fit.mean())})
        if cfg.stall is not None and since_better >= cfg.stall:
            if restarts_left <= 0:
                break
            # the population has converged: start an independent run (the best so far is remembered, not kept in
            # it, so that the new run explores instead of converging on it again)
            restarts_left, since_better = restarts_left - 1, 0
            pop = rng.integers(0, n_alleles, (p, n_genes))
            if improve is not None:
                pop = improve(pop)
            fit = fitness(pop)
    return GAResult(best, best_fit, log, p, len(log) - 1)


Positions = tuple[str, np.ndarray] | None


def harmony_fitness(
    model: HarmonyModel, melody: np.ndarray, ends: np.ndarray, mode: str, positions: Positions = None
) -> Callable:
    """The Viterbi objective of `model` as a vectorized fitness over chord-index genomes [P, L]."""
    local, start, trans = model.chain(melody, ends, mode, positions)
    steps = np.arange(local.shape[0])

    def fitness(pop: np.ndarray) -> np.ndarray:
        moves = trans[steps[None, 1:], pop[:, :-1], pop[:, 1:]].sum(axis=1)
        return start[pop[:, 0]] + local[steps, pop].sum(axis=1) + moves

    return fitness


def harmony_local_search(model: HarmonyModel, melody: np.ndarray, ends: np.ndarray, mode: str,
                         positions: Positions = None, window: int = 16) -> Callable[..., np.ndarray]:  # fmt: skip
    """Local search for the harmony objective. Each child: one sweep over the slots, giving each the chord that
    scores best between its two neighbours (iterated conditional modes). `thorough` (the elite): then every
    window of `window` neighbouring slots gets its best chords between the slots around it, found by dynamic
    programming over the window (a large-neighbourhood move: no single change makes it). Never lowers a
    genome's fitness. Windows start every `window // 4` slots, so that any run of up to 3/4 of a window that
    should change together lies inside one."""
    local, start, trans = model.chain(melody, ends, mode, positions)  # trans [L, C, C]: into slot k
    n = local.shape[0]

    def into(k: int, pop: np.ndarray) -> np.ndarray:  # [P, C]: what entering slot k from its left neighbour scores
        return np.repeat(start[None, :], len(pop), axis=0) if k == 0 else trans[k][pop[:, k - 1]]

    done: set[bytes] = set()  # genomes the window search leaves as they are

    def improve(pop: np.ndarray, thorough: bool = False) -> np.ndarray:
        pop = pop.copy()
        for k in range(n):
            s = local[k][None, :] + into(k, pop)
            if k + 1 < n:
                s = s + trans[k + 1][:, pop[:, k + 1]].T
            pop[:, k] = s.argmax(axis=1)
        if not thorough:
            return pop
        todo = [i for i, g in enumerate(pop) if g.tobytes() not in done]  # the elite rarely changes: skip repeats
        while todo:  # until no window changes: the genomes recorded are fixed points
            before = pop[todo].copy()
            pop[todo] = windows(before)
            done.update(g.tobytes() for g in pop[todo])
            todo = [i for i, b in zip(todo, before) if not np.array_equal(pop[i], b)]
        return pop

    def windows(pop: np.ndarray) -> np.ndarray:
        for k in sorted({*range(0, max(n - window, 0), max(window // 4, 1)), max(n - window, 0)}):
            end = min(k + window, n)
            score, back = local[k][None, :] + into(k, pop), []  # [P, C]
            for j in range(k + 1, end):
                cand = score[:, :, None] + trans[j][None]  # [P, from, to]
                back.append(cand.argmax(axis=1))
                score = cand.max(axis=1) + local[j][None, :]
            if end < n:
                score = score + trans[end][:, pop[:, end]].T
            c = score.argmax(axis=1)
            for j in range(end - 1, k, -1):
                pop[:, j] = c
                c = back[j - k - 1][np.arange(len(pop)), c]
            pop[:, k] = c
        return pop

    return improve


def ga_harmonize(
    melody: Score,
    model: HarmonyModel,
    *,
    key: Key | None = None,
    chords_per_bar: int | None = None,
    cfg: GAConfig | None = None,
    texture: str = "satb",
) -> tuple[Harmonization, GAResult]:
    """Harmonize like `harmonize`, but search the chord sequence with the GA. Returns it and the GA's log."""
    problem = HarmonyProblem.of(melody, model, key=key, chords_per_bar=chords_per_bar)
    m, ends, mode, where = problem.pitches, problem.ends, problem.key.mode, problem.positions
    greedy = model.slot_scores(m, ends, mode).argmax(axis=1)[None, :]  # the best chord of each slot alone
    n_chords = len(vocabulary(mode))
    result = evolve(harmony_fitness(model, m, ends, mode, where), len(m), n_chords, cfg or GAConfig(), seeds=greedy,
                    local_search=harmony_local_search(model, m, ends, mode, where))  # fmt: skip
    return problem.solution(result.best.tolist(), texture), result


# ------------------------------------------------------------------------------------------ course preset

COURSE_CHORDS = {
    "C": ("C", "E", "G"), "Dm": ("D", "F", "A"), "Em": ("E", "G", "B"), "F": ("F", "A", "C"),
    "G": ("G", "B", "D"), "Am": ("A", "C", "E"), "Bdim": ("B", "D", "F"),
}  # fmt: skip
COURSE_TRANSITIONS = {
    "C": ("G", "Am", "F"), "Dm": ("G", "Am"), "Em": ("Am", "F", "C"), "F": ("C", "G"), "G": ("Am", "C"),
    "Am": ("Dm", "Em", "F", "C"), "Bdim": ("F", "Am"),
}  # fmt: skip
COURSE_WEIGHTS = {"chord_melody_congruence": 0.4, "chord_variety": 0.1, "harmonic_flow": 0.3, "functional_harmony": 0.2}
# music21's default spelling of MIDI pitches (C#, E-, F#, G#, B-): the course compares first letters only.
_FIRST_LETTER = ("C", "C", "D", "E", "E", "F", "F", "G", "G", "A", "B", "B")
_COURSE_ROOTS = {"C": (0, "maj"), "Dm": (2, "min"), "Em": (4, "min"), "F": (5, "maj"), "G": (7, "maj"),
                 "Am": (9, "min"), "Bdim": (11, "dim")}  # fmt: skip


@dataclass
class CourseHarmonizer:
    """The course's GA harmonizer, flaws included (see the module docstring). Uses Python's `random`."""

    population_size: int = 100
    mutation_rate: float = 0.05
    generations: int = 1000
    seed: int = 0

    def harmonize(self, melody: Score) -> list[str]:
        """One chord name per 4/4 bar (4 quarters) of the melody, as the course computes it."""
        notes = [(_FIRST_LETTER[n.pitch % 12], n.duration) for n in melody.melody().notes]
        if not notes:
            raise ScoreError(f"{melody.source or melody.title or 'melody'}: no notes to harmonize")
        total = sum(d for _, d in notes)
        n_bars = int(total // 4)
        if n_bars < 2:
            raise ScoreError("the course harmonizer needs at least two 4/4 bars")
        rnd = random.Random(self.seed)
        names = list(COURSE_CHORDS)

        def evaluate(seq: list[str]) -> float:
            return sum(w * getattr(self, f"_{f}")(seq, notes, total) for f, w in COURSE_WEIGHTS.items())

        pop = [[rnd.choice(names) for _ in range(n_bars)] for _ in range(self.population_size)]
        for _ in range(self.generations):
            parents = rnd.choices(pop, weights=[evaluate(s) for s in pop], k=self.population_size)
            new = []
            for i in range(0, self.population_size, 2):
                for a, b in ((parents[i], parents[i + 1]), (parents[i + 1], parents[i])):
                    cut = rnd.randint(1, n_bars - 1)
                    child = a[:cut] + b[cut:]
                    if rnd.random() < self.mutation_rate:
                        child[rnd.randint(0, n_bars - 1)] = rnd.choice(names)
                    new.append(child)
            pop = new
        return max(pop, key=evaluate)

    @staticmethod
    def _chord_melody_congruence(seq: list[str], notes: list[tuple[str, float]], total: float) -> float:
        score, i = 0.0, 0
        for chord in seq:
            bar = 0.0
            while bar < 4 and i < len(notes):
                letter, dur = notes[i]
                if letter in COURSE_CHORDS[chord]:
                    score += dur
                bar += dur
                i += 1
        return score / total

    @staticmethod
    def _chord_variety(seq: list[str], notes: list[tuple[str, float]], total: float) -> float:
        return len(set(seq)) / len(COURSE_CHORDS)

    @staticmethod
    def _harmonic_flow(seq: list[str], notes: list[tuple[str, float]], total: float) -> float:
        return sum(b in COURSE_TRANSITIONS[a] for a, b in zip(seq, seq[1:])) / (len(seq) - 1)

    @staticmethod
    def _functional_harmony(seq: list[str], notes: list[tuple[str, float]], total: float) -> float:
        score = (seq[0] in ("C", "Am")) + (seq[-1] == "C") + ("F" in seq and "G" in seq)
        return score / 3


def course_chords_in_key(names: list[str], key: Key) -> list[Chord]:
    """The course's C-major chord names as `Chord`s relative to `key` (for comparison with labels)."""
    out = []
    for name in names:
        root, quality = _COURSE_ROOTS[name]
        out.append(Chord((root - key.tonic) % 12, quality, name))
    return out


def course_harmonization(melody: Score, harmonizer: CourseHarmonizer) -> Harmonization:
    """The course preset end to end: its chords (C major, a bar of 4 quarters each), voiced in four parts."""
    key = Key(0)
    chords = course_chords_in_key(harmonizer.harmonize(melody), key)
    start = melody.melody().notes[0].onset
    active = np.ones(len(chords), dtype=bool)
    return Harmonization(key, 4.0, chords, voice_chords(chords, key, 4.0, start, active, melody))
