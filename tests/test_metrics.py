"""Golden values of the symbolic metrics on a fixture worked out by hand."""

import math

import pytest

from cadenza.core import Key, Note, Part, Score, TimeSignature, make_score
from cadenza.evaluate import analyze, compare_sets, estimate_key, muspy_metrics
from cadenza.evaluate.symbolic import interval_histogram


@pytest.fixture()
def fixture_score() -> Score:
    # bar 1: C4 E4 G4 C5 quarters; bar 2: silent; bar 3: C major triad, a whole note
    return make_score(
        [[(60, 0, 1), (64, 1, 1), (67, 2, 1), (72, 3, 1), (60, 8, 4), (64, 8, 4), (67, 8, 4)]],
        key=Key(0),
        time_signature=TimeSignature(4, 4),
    )


def test_muspy_golden_values(fixture_score: Score) -> None:
    m = muspy_metrics(fixture_score)
    assert m["pitch_range"] == 12
    assert m["n_pitches_used"] == 4
    assert m["n_pitch_classes_used"] == 3
    assert m["polyphony"] == pytest.approx(2.0)  # (48 steps x 1 + 48 steps x 3) / 96 sounding steps
    assert m["polyphony_rate"] == pytest.approx(48 / 144)
    assert m["pitch_in_scale_rate"] == 1.0
    assert m["scale_consistency"] == 1.0
    p = [2 / 7, 2 / 7, 2 / 7, 1 / 7]
    assert m["pitch_entropy"] == pytest.approx(-sum(x * math.log2(x) for x in p))
    q = [3 / 7, 2 / 7, 2 / 7]
    assert m["pitch_class_entropy"] == pytest.approx(-sum(x * math.log2(x) for x in q))
    assert m["empty_beat_rate"] == pytest.approx(4 / 12)
    assert m["empty_measure_rate"] == pytest.approx(1 / 3)
    assert m["groove_consistency"] == pytest.approx(1 - 2.5 / 48)  # Hamming 4 then 1, 48 steps a bar
    assert math.isnan(m["drum_in_pattern_rate"]) and math.isnan(m["drum_pattern_consistency"])


def test_drum_metrics() -> None:
    drums = Part(tuple(Note(36, t, 0.1) for t in (0, 0.25, 0.5, 1 / 3)), is_drum=True)
    s = Score((Part((Note(60, 0, 1),)), drums))
    m = muspy_metrics(s)
    assert m["drum_in_pattern_rate"] == pytest.approx(0.75)
    assert m["drum_pattern_consistency"] == pytest.approx(0.75)


def test_key_estimation(bach_scores) -> None:  # type: ignore[no-untyped-def]
    # Key profiles find the annotated key of most chorales.
    hits = sum(estimate_key(s) == s.key for s in bach_scores)
    assert hits >= 7
    assert estimate_key(make_score([[(60, 0, 2), (64, 2, 1), (67, 3, 1), (65, 4, 1), (62, 5, 1)]])) == Key(0)


def test_analyze_and_histograms(fixture_score: Score) -> None:
    a = analyze(fixture_score)
    assert a["key"] == "C major" and a["notes"] == 7
    assert a["pitch_class_histogram"][0] == 3
    hist = interval_histogram(fixture_score)
    assert hist[4] == 1 and hist[3] == 1 and hist[5] == 1 and hist[-5] == 1  # C5 to the top of the triad, G4


def test_set_comparison_prefers_the_same_style(bach_scores, essen_scores) -> None:  # type: ignore[no-untyped-def]
    same = compare_sets(bach_scores[5:], bach_scores[:5])
    other = compare_sets(essen_scores[:10], bach_scores[:5])
    assert same["mean"]["overlap"] > other["mean"]["overlap"]
    assert same["mean"]["kl"] < other["mean"]["kl"]
    assert 0 <= other["pitch_range"]["overlap"] <= 1
