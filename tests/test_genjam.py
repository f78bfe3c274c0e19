"""The GenJam-style improviser: chord-scales, musical mutations, tournaments, the solo and its backing."""

from __future__ import annotations

import numpy as np
import pytest

from cadenza.errors import InputError
from cadenza.symbolic.genjam import (
    CHORD_TONES,
    HOLD,
    GenJam,
    GenJamConfig,
    _measure_mutation,
    measure_notes,
    parse_chords,
)


def test_parse_chords() -> None:
    chords = parse_chords("Dm7 | G7 Cmaj7 Bm7b5 F#o7 Bb")
    assert [(c.root, c.quality) for c in chords] == [(2, "min7"), (7, "7"), (0, "maj7"), (11, "hdim7"), (6, "dim7"),
                                                     (10, "maj")]  # fmt: skip
    with pytest.raises(InputError, match="Hx7"):
        parse_chords("C Hx7")


def test_measure_maps_through_the_chord_scale() -> None:
    g7 = parse_chords("G7")[0]
    notes = measure_notes(np.array([1, HOLD, 3, 5, 0, 8, HOLD, HOLD]), g7, 0.0)
    assert [(n.pitch % 12, n.onset, n.duration) for n in notes] == [(7, 0.0, 1.0), (11, 1.0, 0.5), (2, 1.5, 0.5),
                                                                     (7, 2.5, 1.5)]  # fmt: skip
    assert notes[-1].pitch - notes[0].pitch == 12  # step 8 of a 7-note scale is the octave


def test_mutations_keep_measures_valid() -> None:
    rng = np.random.default_rng(0)
    m = np.array([1, 5, HOLD, 0, 9, 14, 2, HOLD])
    for _ in range(200):
        out = _measure_mutation(m, rng)
        assert out.shape == (8,) and out.min() >= 0 and out.max() <= HOLD
        assert sorted(out[(out > 0) & (out < HOLD)].tolist()) != [] or (m == 0).all()


def test_tournaments_improve_the_critics_fitness_and_the_solo_has_a_backing() -> None:
    chords = parse_chords("Dm7 G7 Cmaj7 Cmaj7")
    jam = GenJam(chords, cfg=GenJamConfig(generations=200, seed=2))
    jam.evolve()
    assert jam.log[-1]["best"] > jam.log[0]["best"] and jam.log[-1]["mean"] > jam.log[0]["mean"]
    solo = jam.solo(8)
    assert [p.name for p in solo.parts] == ["solo", "piano", "bass"]
    assert solo.end == pytest.approx(32.0, abs=1.5)
    on_beats = [n for n in solo.parts[0].notes if n.onset % 1.0 == 0]
    chord_of = [chords[int(n.onset // 4) % 4] for n in on_beats]
    tones = sum((n.pitch - c.root) % 12 in CHORD_TONES[c.quality] for n, c in zip(on_beats, chord_of))
    assert tones / len(on_beats) > 0.5  # chance for a 4-note chord is 1/3
    again = GenJam(chords, cfg=GenJamConfig(generations=200, seed=2))
    again.evolve()
    assert [n.pitch for n in again.solo(8).parts[0].notes] == [n.pitch for n in solo.parts[0].notes]
