"""Demo section: Markov chains: a whole piece, top-down (GEDMAS-style)."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Section, score_item


def build(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.core.score import Key
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.compose import Style, compose
    from cadenza.symbolic.markov import MarkovMelody

    style = Style.learn(load_corpus("bach", limit=60, progress=False).split("train"))
    melody_model = MarkovMelody.from_pretrained()
    piece = compose(style, melody_model, key=Key(7), rng=np.random.default_rng(5), tempo_bpm=104)
    item = score_item(piece.score, out_dir, "compose", title="A GEDMAS-style piece in G major")
    item.text = f"form: {' '.join(piece.form)}\n" + "\n".join(
        f"{k}: {' '.join(v)}" for k, v in piece.progressions.items()
    )
    return Section(
        "Markov chains: a whole piece, top-down (GEDMAS-style)",
        "Form, then a chord progression per section (learned from the chorales' harmony), then a melody on "
        "those chords (the Essen Markov model, chord tones favoured on strong beats), then bass and chord "
        "rhythms learned from the chorales' voices and drum patterns, on four tracks.",
        [item],
    )
