"""GEDMAS-style composition: learned levels, repetition of labelled sections, tracks and errors."""

from __future__ import annotations

import numpy as np
import pytest

from cadenza.core import Key
from cadenza.symbolic.compose import CompositionError, Style, chord_from_figure, compose
from cadenza.symbolic.markov import MarkovConfig, MarkovMelody


@pytest.fixture(scope="module")
def style(bach_scores) -> Style:  # type: ignore[no-untyped-def]
    return Style.learn(bach_scores)


def test_chord_symbols() -> None:
    assert chord_from_figure("Am", Key(0)).name == "vi"  # type: ignore[union-attr]
    assert chord_from_figure("D7", Key(7)).name == "V7"  # type: ignore[union-attr]
    assert chord_from_figure("F#dim", Key(7)).name == "vii°"  # type: ignore[union-attr]
    assert chord_from_figure("Xyz", Key(0)) is None


def test_compose_four_tracks_with_repeating_sections(style: Style, essen_scores) -> None:  # type: ignore[no-untyped-def]
    melody_model = MarkovMelody(MarkovConfig(order=3)).fit(essen_scores)
    piece = compose(style, melody_model, key=Key(2), bars_per_section=4, rng=np.random.default_rng(0))
    names = [p.name for p in piece.score.parts]
    assert names == ["melody", "chords", "bass", "drums"] and piece.score.parts[3].is_drum
    assert 3 <= len(piece.form) <= 8
    assert piece.score.end == pytest.approx(len(piece.form) * 16, abs=1e-6)
    # the bass plays each bar's chord root; the chords track plays its triad
    vocab = {c.name: c for c in __import__("cadenza.symbolic.chords", fromlist=["x"]).vocabulary("major")}
    bars = [name for label in piece.form for name in piece.progressions[label]]
    for n in piece.score.parts[2].notes:
        assert n.pitch % 12 == vocab[bars[int(n.onset // 4)]].pitch_classes(2)[0]
    # sections with the same label repeat their melody
    melody = piece.score.parts[0].notes
    by_label: dict[str, list[tuple[int, float]]] = {}
    for si, label in enumerate(piece.form):
        notes = [(n.pitch, round(n.onset - 16 * si, 6)) for n in melody if 16 * si <= n.onset < 16 * (si + 1)]
        assert by_label.setdefault(label, notes) == notes
    assert piece.progressions[piece.form[-1]][-1] == "I"  # the piece closes on the tonic


def test_corpus_without_chords(essen_scores) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CompositionError, match="no chord data"):
        Style.learn(essen_scores)
