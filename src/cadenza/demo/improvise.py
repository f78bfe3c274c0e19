"""Demo section: Genetic algorithms: a GenJam-style improviser."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section, score_item


def build(out_dir: Path) -> Section:
    from cadenza.evaluate.plots import convergence_png
    from cadenza.symbolic.genjam import GenJam, GenJamConfig, parse_chords

    chords = parse_chords("Dm7 G7 Cmaj7 Cmaj7 Em7 A7 Dm7 G7")
    jam = GenJam(chords, cfg=GenJamConfig(generations=400, seed=4))
    jam.evolve()
    convergence_png(jam.log, out_dir / "genjam_convergence.png", title="GenJam tournaments: phrase fitness")
    item = score_item(jam.solo(16, tempo_bpm=150), out_dir, "genjam", title="GenJam-style solo over ii-V-I")
    item.text = "chords: " + " ".join(c.symbol for c in chords) + " (twice)"
    return Section(
        "Genetic algorithms: a GenJam-style improviser",
        "Measures of eighth notes mapped through each chord's scale, phrases of four measures, GenJam's musical "
        "mutations and tournaments, judged here by a rule critic (chord tones on beats, stepwise motion, some "
        "silence); `cadenza improvise --interactive` lets you be the critic.",
        [item, Item("Phrase fitness per tournament", image="genjam_convergence.png")],
    )
