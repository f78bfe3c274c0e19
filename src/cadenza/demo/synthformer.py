"""Demo section: Synthformer: textures played from codec tokens as a drawn parameter moves."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section


def build(out_dir: Path) -> Section:
    import numpy as np
    import torch

    from cadenza.audio.synthformer import Synthformer
    from cadenza.core.audio import AudioClip
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    torch.set_num_threads(1)
    model = Synthformer.from_pretrained()
    codec, rate = model.codec, model.cfg.frame_rate
    t = np.arange(round(10.0 * rate)) / rate
    drawn = {  # class: (parameter, curve over 10 s, what the curve does)
        "rain": ("density", np.interp(t, [0, 3, 6, 10], [0.05, 0.9, 0.9, 0.1]), "a drizzle grows to a downpour"),
        "engine": ("rate", np.interp(t, [0, 4, 7, 10], [0.1, 0.9, 0.9, 0.3]), "an engine revs up, holds, slows"),
        "wind": ("strength", 0.5 + 0.4 * np.sin(2 * np.pi * t / 5), "wind in two slow gusts"),
        "fm": ("index", np.repeat([0.05, 0.9, 0.3, 1.0, 0.05], len(t) // 5 + 1)[: len(t)],
               "an FM tone whose index jumps and holds: pure, rich, half, richest, pure"),
    }  # fmt: skip
    items = []
    for i, (kind, (param, curve, what)) in enumerate(drawn.items()):
        if kind not in model.cfg.classes:
            continue
        for guidance in (model.GUIDANCE, 1.0, 3.0) if kind == "wind" else (model.GUIDANCE,):
            name = f"sf_{kind}" if guidance == model.GUIDANCE else f"sf_{kind}_guidance{guidance:g}"
            codes = model.generate(kind, {param: curve.astype(np.float32)}, len(t), seed=i, guidance=guidance)
            clip = AudioClip(codec.decode_chunked(codes)[0].numpy(), codec.sample_rate)
            write_audio(clip, out_dir / f"{name}.wav")
            how = f", guidance {guidance:g}"
            spectrograms_png([(f"Synthformer {kind}: {param} drawn{how}", clip)], out_dir / f"{name}.png",
                             curves={f"{param} asked (0-1)": (t, curve)})  # fmt: skip
            items.append(Item(f"{kind}: {what}{how}", audio=f"{name}.wav", image=f"{name}.png"))
    f = model.figures
    return Section(
        "Synthformer: textures that follow a drawn parameter",
        "A causal Transformer over 4 codebooks of cadenza's codec, conditioned on the sound class and its parameter at "
        "every frame (adaLN), after DACSynthformer (the course's week 4). Trained here on procedural textures "
        f"(held-out cross-entropy {f['valid_loss']:.2f} nats per code; a model that knows nothing: "
        f'{f["uniform_loss"]:.2f}). `cadenza synthformer play --class rain --param "density=0:0.1,8:0.9" -o rain.wav`; '
        "`--live` reads `density=0.7` lines from stdin as it plays. "
        f"Each plays with guidance {model.GUIDANCE:g} (`--guidance`, the default): the sound is pushed away from what "
        "the model plays with its parameter at the middle of its range. The wind also plays with guidance 1 (the "
        "model alone) and 3: more guidance follows the curve more closely and sounds less like the real texture "
        "(BENCHMARKS.md). The fm tone's index jumps: the model learned to read a jump at once from textures whose "
        "parameters jump and hold (its card).",
        items,
    )
