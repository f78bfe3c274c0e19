"""Demo section: neural chorales, the JSB Music Transformer and BachBot."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Section, held_out_chorale, score_item


def build(out_dir: Path) -> Section:
    from cadenza.evaluate.voice_leading import violations
    from cadenza.symbolic.bachbot import BachBot
    from cadenza.symbolic.transformer import MusicTransformer

    mt = MusicTransformer.from_pretrained()
    items = [score_item(mt.generate(128, seed=2), out_dir, "mt_chorale", title="Music Transformer: 8 bars, free "
                        "sampling")]  # fmt: skip
    bb = BachBot.from_pretrained()
    items.append(score_item(bb.generate(frames=128, seed=4), out_dir, "bachbot_free", title="BachBot LSTM: a free "
                            "chorale"))  # fmt: skip
    source = held_out_chorale(0)
    harm = bb.harmonize(source.replace(parts=(source.parts[0],)), seed=1)
    item = score_item(harm, out_dir, "bachbot_harmony",
                      title=f"BachBot LSTM harmonizes the soprano of a held-out chorale ({source.title})")  # fmt: skip
    v = violations(harm)["per_100_beats"]
    item.text = "voice-leading violations per 100 beats: " + ", ".join(f"{k} {x:.2f}" for k, x in v.items())
    items.append(item)
    W = mt.cfg.block_size
    return Section(
        "Neural chorales: Music Transformer and BachBot",
        "A Transformer with relative attention (Huang et al. 2019) trained on the JSB Chorales train split "
        f"(valid NLL {mt.figures['valid_nll']:.3f} nats per token with a {W}-token context and sliding windows of "
        f"stride {W // 2}; the paper reports 0.335 with whole pieces in context), and a BachBot-style LSTM (Liang "
        f"2016; valid cross-entropy {bb.figures['valid_nll']:.3f}, BachBot 0.477) that writes chorales or fills "
        "alto, tenor and bass under a given soprano. `cadenza music-transformer generate -o OUT`, "
        "`cadenza harmonize MELODY --method chorale-lstm -o OUT`.",
        items,
    )
