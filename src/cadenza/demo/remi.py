"""Demo section: the Music Transformer on REMI events, Bach and Essen."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Section, held_out_chorale, held_out_tune, score_item


def build(out_dir: Path) -> Section:
    from cadenza.symbolic.remi_lm import RemiTransformer, head_bars

    model = RemiTransformer.from_pretrained()
    f = model.figures
    tune, chorale = held_out_tune(3), held_out_chorale(2)
    items = [
        score_item(model.generate(style="essen", bars=16, seed=3, temperature=0.9), out_dir, "remi_essen",
                   title="A folk tune from nothing (style token: essen)", program=73),
        score_item(model.generate(style="bach", bars=8, seed=5, temperature=0.9), out_dir, "remi_bach",
                   title="A chorale from nothing (style token: bach)"),
        score_item(model.generate(primer=head_bars(tune, 4), style="essen", bars=16, seed=1, temperature=0.9),
                   out_dir, "remi_primer", title=f"The first 4 bars of a held-out Essen tune ({tune.title}), "
                   "continued", program=73),
        score_item(model.generate(primer=head_bars(chorale, 2), style="bach", bars=8, seed=2, temperature=0.9),
                   out_dir, "remi_chorale_primer", title=f"The first 2 bars of a held-out chorale ({chorale.title}), "
                   "continued"),
    ]  # fmt: skip
    return Section(
        "Music Transformer on REMI events: Bach and Essen",
        "One relative-attention Transformer over REMI event tokens (Bar, Position, Program, Pitch, Duration) of "
        "Bach chorales and Essen tunes, a style token choosing the corpus "
        f"(valid NLL {f['valid_nll_bach']:.3f} / {f['valid_nll_essen']:.3f} nats per token on held-out chorales / "
        "tunes). `cadenza remi-transformer generate -o OUT [--style bach] [--primer FILE]`.",
        items,
    )
