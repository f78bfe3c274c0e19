"""Demo section: VampNet: variations (one following the tune), an inpainted gap and a loop that varies, on a tune it
never heard."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section, held_out_tune, render_clip


def build(out_dir: Path) -> Section:
    import numpy as np
    import torch

    from cadenza.audio.vampnet import VampNet, prompt_mask
    from cadenza.core.audio import AudioClip
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    torch.set_num_threads(1)
    model = VampNet.from_pretrained()
    codec, sr, k = model.codec, model.codec.sample_rate, model.cfg.n_codebooks
    src = render_clip(held_out_tune(2).replace(tempo_bpm=100.0), "clarinet").slice_s(0, 10.0)

    def vamp(x: np.ndarray, prompts: list[str], seed: int, follow_tune: bool = False) -> AudioClip:
        codes = codec.encode_chunked(torch.tensor(x)[None, None], k)
        n = codes.shape[-1]
        tune = model.tune_of(x, sr, n) if follow_tune else None
        out = model.vamp(codes, prompt_mask(prompts, n, model.cfg), steps=24, seed=seed,  # guided (1.0)
                         tune=tune, tune_guidance=3.0)  # as `vamp --follow-tune`  # fmt: skip
        return AudioClip(codec.decode_chunked(out)[0, :, : len(x)].numpy(), sr)

    x = src.samples[0]
    variation = vamp(x, ["periodic:7"], 0)
    tuned = vamp(x, ["periodic:7"], 0, follow_tune=True)
    gap = vamp(x, ["inpaint:4s-6s"], 1)
    bar = x[: round(2.5 * sr)]
    loop = vamp(np.tile(bar, 4), ["periodic:9", "codebooks:1"], 2)
    for name, clip in (("src", src), ("variation", variation), ("tune", tuned), ("gap", gap), ("loop", loop)):
        write_audio(clip, out_dir / f"vn_{name}.wav")
    spectrograms_png([("a clarinet plays a held-out Essen tune (FluidSynth)", src),
                      ("VampNet variation: every 7th frame kept (periodic:7)", variation),
                      ("the same, following the tune (--follow-tune)", tuned),
                      ("4 s - 6 s masked and filled in (inpaint:4s-6s)", gap)], out_dir / "vn.png")  # fmt: skip
    spectrograms_png([("2.5 s played four times, vamped (periodic:9 + codebooks:1)", loop)], out_dir / "vn_loop.png")
    f = model.figures
    return Section(
        "VampNet: variations, inpainting and loops from masked codec tokens",
        "A bidirectional Transformer over 4 codebooks of cadenza's codec, trained here to fill masked tokens "
        f"(held-out cross-entropy {f['valid_loss']:.2f} nats per masked token; knowing nothing: "
        f"{f['uniform_loss']:.2f}), sampled MaskGIT-style in 24 passes (Garcia et al. 2023). "
        "`cadenza vampnet vamp song.wav --prompt periodic:7 -o out.wav`; `--follow-tune` (the input's dominant note "
        "of each frame guides the variation: on held-out melodies about as many frames keep their pitch as through "
        "the codec alone, see the model's card), `--prompt inpaint:4s-6s`, "
        "`--prompt continue:5s`, `--loop 4`; `cadenza vampnet train --init-from vampnet-music --data MY_FOLDER` "
        "fine-tunes it on your audio.",
        [
            Item("A tune the model never heard", audio="vn_src.wav", image="vn.png"),
            Item("A variation: every 7th frame kept, the rest generated", audio="vn_variation.wav"),
            Item("The same variation following the tune (--follow-tune)", audio="vn_tune.wav"),
            Item("Two seconds masked and filled in", audio="vn_gap.wav"),
            Item("A loop that varies: one bar four times", audio="vn_loop.wav", image="vn_loop.png"),
        ],
    )
