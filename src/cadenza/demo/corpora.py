"""Demo section: The corpora: a Bach chorale and an Essen folk song, as every technique below learns from them."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Section, score_item


def build(out_dir: Path) -> Section:
    from cadenza import io
    from cadenza.corpus import music21_corpus_dir

    bach = io.read_score(music21_corpus_dir() / "bach" / "bwv66.6.mxl").replace(title="BWV 66.6, Christ unser Herr")
    tune = io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc")[0]
    return Section(
        "The corpora",
        "Real music that every technique below learns from: a Bach chorale from music21's 371 (sung by the "
        "General MIDI choir through FluidSynth) and a folk song of the Essen collection (a violin).",
        [
            score_item(
                bach,
                out_dir,
                "bach",
                title=bach.title,
                program=52,
                note="bach corpus: SATB, key and fermatas from MusicXML",
            ),
            score_item(
                tune,
                out_dir,
                "essen",
                title=tune.title or "Essen tune",
                program=40,
                note="essen/erk corpus: one tune of an ABC tune book",
            ),
        ],  # fmt: skip
    )
