"""Demo section: Markov chains: melodies from the shipped Essen model, beside the course's chain."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Section, score_item


def build(out_dir: Path) -> Section:
    import numpy as np

    from cadenza import io
    from cadenza.core.score import Key, TimeSignature
    from cadenza.corpus import music21_corpus_dir
    from cadenza.symbolic.markov import CourseChain, MarkovMelody

    model = MarkovMelody.from_pretrained()
    rng = np.random.default_rng(3)
    major = model.generate(bars=8, key=Key(2), time_signature=TimeSignature(3, 4), rng=rng, tempo_bpm=110)
    minor = model.generate(bars=8, key=Key(9, "minor"), time_signature=TimeSignature(6, 8), rng=rng, tempo_bpm=90)
    course = CourseChain().fit(io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc"))
    baseline = course.generate(32, np.random.default_rng(3)).replace(tempo_bpm=110)
    return Section(
        "Markov chains",
        "A variable-order (PPM-C) multiple-viewpoint model trained on the Essen folk songs, key-normalized, "
        "generating under constraints: 8 bars, a key, a meter, a range, ending on the tonic. Below them, the "
        "course's first-order chain (trained on 27 tunes, no rests, no end, no meter) for comparison.",
        [
            score_item(major, out_dir, "markov_major", title="Markov melody, D major, 3/4", program=73),
            score_item(minor, out_dir, "markov_minor", title="Markov melody, A minor, 6/8", program=73),
            score_item(baseline, out_dir, "markov_course", title="The course's chain, 32 notes", program=73),
        ],
    )
