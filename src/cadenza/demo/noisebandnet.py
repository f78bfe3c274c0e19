"""Demo section: NoiseBandNet: a wind you can draw."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section


def build(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.audio.noisebandnet import NoiseBandNet, control_curves, generate_from_controls
    from cadenza.audio.textures import make_texture
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    model = NoiseBandNet.from_pretrained()
    fr = model.cfg.frame_rate
    t = np.arange(0, 10.0, 1 / fr)
    gust = np.clip(np.sin(np.pi * t / 10.0) ** 2 + 0.25 * np.sin(2 * np.pi * t / 2.5), 0, 1.2)
    loud = -45 + 30 * gust  # dB: calm, a gust, calm
    centroid = np.log2(300 + 900 * gust)  # brighter as it blows harder
    drawn = generate_from_controls(model, np.stack([loud, centroid], -1).astype(np.float32), seed=0)
    write_audio(drawn, out_dir / "nbn_drawn.wav")
    spectrograms_png([("NoiseBandNet wind driven by a drawn curve", drawn)], out_dir / "nbn_drawn.png",
                     curves={"loudness (dB)": (t, loud), "centroid / 40 (Hz)": (t, 2**centroid / 40)})  # fmt: skip
    held, _ = make_texture("wind", 8.0, model.cfg.sample_rate, np.random.default_rng(12345))
    ctl = control_curves(held.samples[0], model.cfg.sample_rate, fr)
    copy = generate_from_controls(model, ctl, seed=1)
    write_audio(held, out_dir / "nbn_wind_orig.wav")
    write_audio(copy, out_dir / "nbn_wind_copy.wav")
    spectrograms_png([("procedural wind (never seen)", held), ("NoiseBandNet from its loudness and centroid", copy)],
                     out_dir / "nbn_copy.png")  # fmt: skip
    f = model.figures
    return Section(
        "NoiseBandNet: a wind you can draw",
        "NoiseBandNet (Barahona-Rios & Collins 2024): 256 fixed noise bands whose amplitudes a GRU sets from two "
        "control curves, loudness and spectral centroid. Trained here on procedural wind "
        f"(held-out multi-resolution STFT distance {f['valid_mrstft']:.2f}). "
        "`cadenza noisebandnet generate --control CURVE.csv -o OUT.wav`.",
        [
            Item("Driven by a drawn curve: calm, a gust, calm", audio="nbn_drawn.wav", image="nbn_drawn.png"),
            Item("A wind the model never heard", audio="nbn_wind_orig.wav"),
            Item("... re-created from its two control curves", audio="nbn_wind_copy.wav", image="nbn_copy.png"),
        ],
    )
