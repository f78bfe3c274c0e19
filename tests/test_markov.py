"""Markov melodies: PPM-C smoothing, corpus likelihoods, constrained generation, the course preset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cadenza.core import Key, TimeSignature, make_score
from cadenza.errors import InputError
from cadenza.symbolic.markov import CourseChain, MarkovConfig, MarkovMelody
from cadenza.symbolic.markov_eval import compare_corpora, cross_validate
from cadenza.symbolic.ppm import PPM
from cadenza.symbolic.viewpoints import REST, melody_events


def test_ppm_is_a_distribution_and_never_zero() -> None:
    m = PPM(domain=5, order=2).fit([[0, 1, 2, 1, 0], [0, 1, 2, 3]])
    for history in ([], [0], [0, 1], [4, 4], [0, 1, 2]):
        p = m.distribution(history)
        assert p.shape == (6,) and p.sum() == pytest.approx(1.0)
        assert (p > 0).all()  # unseen symbols (4) and contexts keep some mass
    assert m.distribution([0, 1]).argmax() == 2  # the only continuation ever seen
    back = PPM.from_dict(m.to_dict())
    assert np.allclose(back.distribution([0, 1]), m.distribution([0, 1]))


def test_melody_events_with_rests() -> None:
    s = make_score([[(60, 0, 1), (62, 2, 1), (64, 3, 1)]])
    ev = melody_events(s)
    assert [(e.pitch, e.duration) for e in ev] == [(60, 1), (REST, 1), (62, 1), (64, 1)]
    assert [e.pitch for e in melody_events(s, rests=False)] == [60, 62, 64]


def test_own_corpus_is_more_likely_than_another(bach_scores, essen_scores) -> None:  # type: ignore[no-untyped-def]
    model = MarkovMelody(MarkovConfig(order=3)).fit(essen_scores[:20])
    own, other = compare_corpora(model, essen_scores[20:], bach_scores)
    assert own < other


def test_generation_respects_the_constraints(essen_scores) -> None:  # type: ignore[no-untyped-def]
    model = MarkovMelody().fit(essen_scores)
    for key, meter in ((Key(2, "minor"), TimeSignature(3, 4)), (Key(10), TimeSignature(6, 8))):
        s = model.generate(bars=6, key=key, time_signature=meter, pitch_range=(60, 79), rng=np.random.default_rng(1))
        notes = s.parts[0].notes
        assert s.key == key and s.time_signature == meter
        assert all(60 <= n.pitch <= 79 for n in notes)
        assert notes[-1].pitch % 12 == key.tonic  # ends on the tonic
        assert notes[-1].offset == pytest.approx(6 * meter.bar_length)
        for n in notes:  # no note crosses a bar line
            assert int((n.onset + 1e-9) // meter.bar_length) == int((n.offset - 1e-9) // meter.bar_length)
    a = model.generate(bars=4, rng=np.random.default_rng(7))
    b = model.generate(bars=4, rng=np.random.default_rng(7))
    assert a.parts == b.parts  # a seed reproduces the melody


def test_save_load(tmp_path: Path, essen_scores) -> None:  # type: ignore[no-untyped-def]
    model = MarkovMelody(MarkovConfig(order=2)).fit(essen_scores)
    model.save_pretrained(tmp_path / "m")
    back = MarkovMelody.from_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "model.json.gz").exists()
    assert np.allclose(back.log2_probs(essen_scores[0]), model.log2_probs(essen_scores[0]))
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match="bad.json.gz"):
        MarkovMelody.from_pretrained(tmp_path / "bad.json.gz")


def test_course_chain_has_zero_probabilities(essen_scores, bach_scores) -> None:  # type: ignore[no-untyped-def]
    chain = CourseChain().fit(essen_scores[:5])
    assert chain.initial.sum() == pytest.approx(1.0)
    p = np.concatenate([chain.probs(s) for s in bach_scores])
    assert (p == 0).any()  # unseen notes: where the course code raises KeyError
    melody = chain.generate(16, np.random.default_rng(0))
    assert len(melody.parts[0].notes) == 16


def test_cross_validation_beats_the_course_chain(essen_scores) -> None:  # type: ignore[no-untyped-def]
    r = cross_validate(essen_scores, MarkovConfig(order=3), folds=3, progress=False)
    assert r["pieces"] == 27 and r["notes"] > 500
    course = r["course"]["bits_per_note_on_nonzero"]
    assert r["model"]["bits_per_note"] < course or r["course"]["bits_per_note"] is None
    assert 0 < r["model"]["bits_per_note"] < 5
