"""Chord labels of chorales and the HMM harmonizer learned from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cadenza.core import Key, TimeSignature, make_score
from cadenza.errors import InputError
from cadenza.symbolic.chords import label_beats, vocabulary
from cadenza.symbolic.harmonize import HarmonyModel, HarmonyProblem, harmonize, phrase_ends, slot_melody
from cadenza.symbolic.harmonize_eval import evaluate_harmonizers


@pytest.fixture(scope="module")
def model(bach_scores) -> HarmonyModel:  # type: ignore[no-untyped-def]
    return HarmonyModel().fit(bach_scores[3:])


def test_label_beats_names_plain_chords() -> None:
    # C major: C-E-G-C, then G-B-D-F (V7), then A-C-E (vi), one chord per beat
    s = make_score(
        [[(72, 0, 1), (74, 1, 1), (72, 2, 1)], [(67, 0, 1), (65, 1, 1), (64, 2, 1)],
         [(64, 0, 1), (59, 1, 1), (57, 2, 1)], [(48, 0, 1), (43, 1, 1), (45, 2, 1)]],
        key=Key(0), time_signature=TimeSignature(3, 4),
    )  # fmt: skip
    assert [c.name for c in label_beats(s, Key(0))] == ["I", "V7", "vi"]


def test_vocabularies() -> None:
    names = [c.name for c in vocabulary("major")]
    assert names[:7] == ["I", "ii", "iii", "IV", "V", "vi", "vii°"] and "V7/V" in names
    assert [c.name for c in vocabulary("minor")][:3] == ["i", "ii°", "III"]


def test_harmonizer_beats_always_tonic(model: HarmonyModel, bach_scores) -> None:  # type: ignore[no-untyped-def]
    r = evaluate_harmonizers(model, bach_scores[:3], ("viterbi",))
    assert r["viterbi"]["accuracy"] > r["always_tonic"]["accuracy"]


def test_chords_hold_the_strong_beat_melody_notes(model: HarmonyModel, essen_scores) -> None:  # type: ignore[no-untyped-def]
    hits = total = 0
    chance = np.mean([len(c.pitch_classes()) for c in vocabulary("major")]) / 12
    for tune in essen_scores[:8]:
        h = harmonize(tune, model)
        origin = tune.pickup - np.ceil(tune.pickup / h.slot_ql - 1e-9) * h.slot_ql
        for k, chord in enumerate(h.chords):
            t = origin + k * h.slot_ql
            notes = [n for n in tune.melody().notes if abs(n.onset - t) < 1e-9 and tune.beat_strength(t) >= 0.5]
            for n in notes:
                total += 1
                hits += n.pitch % 12 in chord.pitch_classes(h.key.tonic)
    assert total > 50
    assert hits / total > 2 * chance


def test_viterbi_is_the_optimum(model: HarmonyModel, bach_scores) -> None:  # type: ignore[no-untyped-def]
    s = bach_scores[0]
    m, ends = slot_melody(s, s.key, 1.0), phrase_ends(s, 1.0)
    best = model.viterbi(m, ends, s.key.mode)
    top = model.total_score(best, m, ends, s.key.mode)
    rng = np.random.default_rng(0)
    n = len(vocabulary(s.key.mode))
    for _ in range(200):
        path = list(rng.integers(0, n, len(best)))
        assert model.total_score(path, m, ends, s.key.mode) <= top + 1e-9
    mutated = list(best)
    mutated[3] = (mutated[3] + 1) % n
    assert model.total_score(mutated, m, ends, s.key.mode) <= top + 1e-9


def test_four_voices_and_meter(model: HarmonyModel, essen_scores) -> None:  # type: ignore[no-untyped-def]
    tune = essen_scores[1]
    h = harmonize(tune, model, chords_per_bar=1)
    assert [p.name for p in h.score.parts] == ["melody", "alto", "tenor", "bass"]
    assert len(h.chords) == len(list(tune.bars()))
    for p in h.score.parts[1:]:
        assert p.is_monophonic() and all(40 <= n.pitch <= 74 for n in p.notes)
    with pytest.raises(Exception, match="no notes"):
        harmonize(make_score([[]]), model)


def test_save_load(model: HarmonyModel, tmp_path: Path, bach_scores) -> None:  # type: ignore[no-untyped-def]
    model.save_pretrained(tmp_path / "h", card="# card\n")
    back = HarmonyModel.from_pretrained(tmp_path / "h")
    s = bach_scores[0]
    assert harmonize(s, back).chords == harmonize(s, model).chords
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not a harmony model"):
        HarmonyModel.from_pretrained(tmp_path / "bad.json")


def test_evolve_finds_a_known_optimum() -> None:
    from cadenza.symbolic.genetic import GAConfig, evolve

    target = np.arange(20) % 5

    def fitness(pop: np.ndarray) -> np.ndarray:
        return (pop == target).sum(axis=1).astype(float)

    r = evolve(fitness, 20, 5, GAConfig(population=60, generations=80, seed=1))
    assert r.best_fitness == 20 and np.array_equal(r.best, target)
    bests = [g["best"] for g in r.log]
    assert all(b2 >= b1 for b1, b2 in zip(bests, bests[1:]))  # elitism: the best never gets worse
    again = evolve(fitness, 20, 5, GAConfig(population=60, generations=80, seed=1))
    assert np.array_equal(again.best, r.best)  # a seed reproduces the run


def test_memetic_ga_reaches_the_viterbi_optimum(model: HarmonyModel, bach_scores) -> None:  # type: ignore[no-untyped-def]
    from cadenza.symbolic.genetic import GAConfig, ga_harmonize

    assert model.rhythm  # the fitness holds the harmonic rhythm learned from the chorales
    for s in bach_scores[:2]:
        problem = HarmonyProblem.of(s, model, key=s.key)
        m, optimum = problem.pitches, problem.score(model, problem.viterbi(model))
        h, r = ga_harmonize(s, model, key=s.key, cfg=GAConfig(seed=0))  # the defaults: sized from the melody
        assert r.population == max(32, min(128, 2 * len(m))) and r.generations <= max(100, 4 * len(m))
        assert abs(r.best_fitness - optimum) < 1e-9 * abs(optimum)
        assert len(h.chords) == len(m)
        plain = GAConfig(population=40, generations=60, local_search=False, stall=None, seed=0)
        _, p = ga_harmonize(s, model, key=s.key, cfg=plain)
        assert p.best_fitness < optimum - 1e-6  # the plain GA stops short: the local search is what closes the gap


def test_harmony_local_search_never_lowers_fitness(model: HarmonyModel, bach_scores) -> None:  # type: ignore[no-untyped-def]
    from cadenza.symbolic.chords import vocabulary
    from cadenza.symbolic.genetic import harmony_fitness, harmony_local_search

    s = bach_scores[0]
    m, ends, mode = slot_melody(s, s.key, 1.0), phrase_ends(s, 1.0), s.key.mode
    fitness, improve = harmony_fitness(model, m, ends, mode), harmony_local_search(model, m, ends, mode, window=4)
    pop = np.random.default_rng(0).integers(0, len(vocabulary(mode)), (16, len(m)))
    quick, thorough = improve(pop), improve(pop, True)
    assert (fitness(quick) >= fitness(pop) - 1e-9).all() and (fitness(thorough) >= fitness(quick) - 1e-9).all()
    assert (fitness(quick) > fitness(pop)).any()


def test_course_preset_behaves_like_the_course(essen_scores, bach_scores) -> None:  # type: ignore[no-untyped-def]
    from cadenza.symbolic.genetic import COURSE_CHORDS, CourseHarmonizer, course_harmonization

    course = CourseHarmonizer(generations=40, seed=3)
    names = course.harmonize(essen_scores[0])
    total = sum(n.duration for n in essen_scores[0].melody().notes)
    assert len(names) == int(total // 4) and set(names) <= set(COURSE_CHORDS)  # 4/4 bars, C major only
    assert course.harmonize(essen_scores[0]) == names
    h = course_harmonization(essen_scores[0], course)
    assert h.key == Key(0) and len(h.score.parts) == 4
    r = evaluate_harmonizers(HarmonyModel().fit(bach_scores[2:]), bach_scores[:2], course=course)
    assert set(r) >= {"viterbi", "ga", "course", "always_tonic"}
    assert r["viterbi"]["accuracy"] >= r["course"]["accuracy"]
    assert 0 <= r["ga"]["mean_gap_to_optimum"] < 0.2
