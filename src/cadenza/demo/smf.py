"""Demo section: the Sound Model Factory: a wind made playable from data, driven by a drawn curve."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section


def build(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.audio.smf import SoundModel, gan_play
    from cadenza.core.audio import AudioClip
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    model = SoundModel.from_pretrained()
    fr = model.frame_rate
    t = np.arange(0, 12.0, 1 / fr)
    curve = np.clip(0.1 + 0.8 * np.sin(np.pi * t / 12.0) ** 2 + 0.1 * np.sin(2 * np.pi * t / 3.0), 0, 1)
    curve = curve.astype(np.float32)  # calm, a storm with gusts, calm
    played = model.play(curve, seed=0)
    write_audio(played, out_dir / "smf_drawn.wav")
    teacher = AudioClip(gan_play(model, curve, seed=0)[None], model.sample_rate).limit_peak(-1.0)
    write_audio(teacher, out_dir / "smf_gan.wav")
    spectrograms_png([("the recurrent model, from the control alone", played),
                      ("the GAN along the SOM path (what it learned from)", teacher)],
                     out_dir / "smf_drawn.png", curves={"control": (t, curve)})  # fmt: skip
    f = model.figures
    return Section(
        "Sound Model Factory: a wind made playable",
        "The Sound Model Factory (Wyse, Kamath & Gupta 2022) in four stages, all trained here: a GAN learns 1 s "
        "windows of procedural wind conditioned on its strength; a self-organizing map over what the GAN makes "
        "gives a path through its latent space along the strength; the GAN makes clips along that path; and "
        "a GRU driving 256 noise bands learns to make the sound from the control alone, for any length, live "
        f"(GAN: {f.get('gan_steps', '?')} steps; GRU: held-out multi-resolution STFT distance "
        f"{f.get('rnn_valid_mrstft', float('nan')):.2f}). "
        "`cadenza smf play --curve CURVE.csv -o OUT.wav`, or `--live` with values typed on stdin.",
        [
            Item(
                "Driven by a drawn curve: calm, a storm with gusts, calm", audio="smf_drawn.wav", image="smf_drawn.png"
            ),  # fmt: skip
            Item("The GAN itself along the same curve (window by window, overlap-added)", audio="smf_gan.wav"),
        ],
    )
