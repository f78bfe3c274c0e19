"""Demo section: LSTM folk melodies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cadenza.demo.page import Section, held_out_tune, score_item


def build(out_dir: Path) -> Section:
    from cadenza.symbolic.lstm import MelodyLSTM

    model = MelodyLSTM.from_pretrained()
    free = model.generate(seed=7, temperature=0.9)
    tune = held_out_tune(5)
    primer = tune.replace(parts=(dataclasses.replace(tune.melody(), notes=tune.melody().notes[:8]),))
    cont = model.generate(primer=primer, seed=3, temperature=0.9)
    f = model.figures
    return Section(
        "LSTM: folk melodies",
        "An LSTM over the 16th-note melody grid, trained on the Essen erk collection in C major / A minor "
        f"(valid NLL {f['valid_nll']:.3f} nats per symbol, next-symbol accuracy {f['valid_accuracy']:.3f}). "
        "`cadenza lstm generate -o OUT [--primer FILE]`.",
        [
            score_item(free, out_dir, "lstm_free", title="A melody from nothing (temperature 0.9)", program=73),
            score_item(
                cont,
                out_dir,
                "lstm_primer",
                title=f"The first 8 notes of a held-out Essen tune ({tune.title}), continued",
                program=73,
            ),
        ],  # fmt: skip
    )
