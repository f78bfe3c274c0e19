"""Demo section: RAVE: timbre transfer beside DDSP's, and the prior playing on its own."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section, held_out_tune, render_clip


def build(out_dir: Path) -> Section:
    import torch

    from cadenza.audio.ddsp import DDSP, timbre_transfer
    from cadenza.audio.rave import RAVE
    from cadenza.audio.rave_prior import RAVEPrior
    from cadenza.audio.rave_train import describe
    from cadenza.core.audio import AudioClip
    from cadenza.errors import AudioError
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio
    from cadenza.pretrained import resolve

    torch.set_num_threads(1)
    rave, ddsp = RAVE.from_pretrained(), DDSP.from_pretrained()
    sr = rave.sample_rate
    sources: list[tuple[str, AudioClip]] = [
        ("a flute (FluidSynth) plays a held-out Essen tune", render_clip(held_out_tune(1).replace(tempo_bpm=96.0),
                                                                         "flute").slice_s(0, 10.0)),
        ("a trumpet plays another", render_clip(held_out_tune(4).replace(tempo_bpm=96.0), "trumpet").slice_s(0, 10.0)),
    ]  # fmt: skip
    try:
        from cadenza.audio.speech import speak

        sources.append(("a voice (espeak-ng) speaks two sentences", speak().slice_s(0, 10.0)))
    except AudioError:
        pass  # espeak-ng is missing: `make install` brings it
    items = []
    for i, (what, src) in enumerate(sources):
        out_rave = AudioClip(rave.resynthesize(torch.tensor(src.samples)[None])[0].numpy(), sr)
        out_ddsp, plan, _ = timbre_transfer(ddsp, src, figures=ddsp.figures)
        for name, clip in (("src", src), ("rave", out_rave), ("ddsp", out_ddsp)):
            write_audio(clip, out_dir / f"rave_{name}_{i}.wav")
        spectrograms_png([(f"input: {what.split(' plays')[0].split(' speaks')[0]}", src), ("RAVE violin", out_rave),
                          (f"DDSP violin (pitch {plan.pitch_shift:+g})", out_ddsp)],
                         out_dir / f"rave_{i}.png")  # fmt: skip
        items.append(Item(f"Input: {what}", audio=f"rave_src_{i}.wav"))
        items.append(Item("RAVE violin: the input through the encoder and the decoder", audio=f"rave_rave_{i}.wav"))
        items.append(Item(f"DDSP violin: the input's f0 ({plan.pitch_shift:+g} semitones) and loudness",
                          audio=f"rave_ddsp_{i}.wav", image=f"rave_{i}.png"))  # fmt: skip
    violin = render_clip(held_out_tune(2).replace(tempo_bpm=100.0), "violin").slice_s(0, 8.0)
    resynth = AudioClip(rave.resynthesize(torch.tensor(violin.samples)[None])[0].numpy(), sr)
    write_audio(violin, out_dir / "rave_violin.wav")
    write_audio(resynth, out_dir / "rave_violin_resynth.wav")
    spectrograms_png([("held-out violin (FluidSynth)", violin), ("RAVE resynthesis", resynth)],
                     out_dir / "rave_resynth.png")  # fmt: skip
    items.append(Item("Resynthesis: a held-out violin render", audio="rave_violin.wav"))
    items.append(Item("... and RAVE's", audio="rave_violin_resynth.wav", image="rave_resynth.png"))
    prior_dir = resolve("rave-violin") / "prior"
    if (prior_dir / "config.json").is_file():
        prior = RAVEPrior.from_pretrained(prior_dir)
        n = 10 * sr
        frames = -(-(n + rave.delay) // rave.cfg.hop)
        gen = AudioClip(rave.decode(prior.generate(frames, seed=3))[0, :, :n].numpy(), sr)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            z = torch.randn(1, rave.cfg.latent_dim, frames, generator=g)
            noise = AudioClip(rave.synthesis(z)[0, :, :n].numpy(), sr)
        write_audio(gen, out_dir / "rave_prior.wav")
        write_audio(noise, out_dir / "rave_normal.wav")
        spectrograms_png([("the prior's latents, decoded", gen), ("latents drawn from N(0, I), decoded", noise)],
                         out_dir / "rave_prior.png")  # fmt: skip
        items.append(Item("From nothing: 10 s of the GRU prior's latent frames through the decoder "
                          "(`cadenza rave generate --seconds 10`)", audio="rave_prior.wav"))  # fmt: skip
        items.append(Item("... and the VAE's own prior, N(0, I) frame by frame, for comparison",
                          audio="rave_normal.wav", image="rave_prior.png"))  # fmt: skip
    f = rave.figures
    words = describe(rave.cfg)
    return Section(
        "RAVE: a realtime audio VAE",
        f"RAVE (Caillon & Esling 2021): {words['encoder']} to a {rave.cfg.latent_dim}-dimensional latent "
        f"({rave.cfg.frame_rate:g} frames/s), {words['decoder']}; phase 1 learns "
        "the representation (spectral distance + KL), phase 2 sharpens the decoder against discriminators with the "
        f"encoder frozen. Trained here on {f.get('train_minutes_of_audio', 0):g} minutes of FluidSynth violin "
        f"({f.get('steps', 0)} steps on one CPU core; validation mel distance {f.get('valid_mel', float('nan')):.2f}). "
        "Unlike DDSP it is told nothing about pitch or loudness and must learn both from the audio. With the paper's "
        "PQMF encoder and transposed-convolution decoder, this much CPU training learned the loudness contour only (a "
        "violin-like tone at one pitch); with a log-mel encoder and a Vocos-style decoder, as here, it follows the "
        "tune (BENCHMARKS.md measures both), with a faint comb of fixed partials behind it that DDSP, given the "
        "pitch, does not have. It is causal: "
        "`cadenza rave export -o violin.ts` writes a streaming TorchScript file for nn~ "
        f"({1000 * rave.latency / sr:.0f} ms latency). `cadenza rave transfer IN.wav -o OUT.wav` plays a recording "
        "through it.",
        items,
    )
