"""Demo section: DDSP: timbre transfer to a violin."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section, held_out_tune, render_clip


def build(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.audio.ddsp import DDSP, extract_features, synthesize, timbre_transfer
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    model = DDSP.from_pretrained()
    f = model.figures
    items = []
    for i, (program, idx) in enumerate([("flute", 1), ("trumpet", 4)]):
        tune = held_out_tune(idx)
        tune = tune.replace(tempo_bpm=96.0)
        src = render_clip(tune, program).slice_s(0, 12.0)
        out, plan, feats = timbre_transfer(model, src, figures=f)
        write_audio(src, out_dir / f"ddsp_src_{i}.wav")
        write_audio(out, out_dir / f"ddsp_out_{i}.wav")
        t = np.arange(len(feats.f0_hz)) / model.cfg.frame_rate
        spectrograms_png([(f"{program} (FluidSynth)", src), ("the DDSP violin playing its f0 and loudness", out)],
                         out_dir / f"ddsp_{i}.png", curves={"f0 (Hz), CREPE tiny": (t, feats.f0_hz)},
                         curve_label="Hz")  # fmt: skip
        items.append(Item(f"Before: a {program} plays a held-out Essen tune ({tune.title})", audio=f"ddsp_src_{i}.wav"))
        items.append(Item(f"After: the same f0 and loudness played by the DDSP violin (pitch {plan.pitch_shift:+g}, "
                          f"loudness {plan.loudness_shift_db:+.0f} dB)", audio=f"ddsp_out_{i}.wav",
                          image=f"ddsp_{i}.png"))  # fmt: skip
    violin = render_clip(held_out_tune(2).replace(tempo_bpm=100.0), "violin").slice_s(0, 10.0)
    feats = extract_features(violin, model.cfg)
    resynth = synthesize(model, feats.f0_hz, feats.loudness_db)
    write_audio(violin, out_dir / "ddsp_violin_orig.wav")
    write_audio(resynth, out_dir / "ddsp_violin_resynth.wav")
    spectrograms_png([("FluidSynth violin (held out)", violin), ("DDSP resynthesis from its f0 and loudness", resynth)],
                     out_dir / "ddsp_resynth.png")  # fmt: skip
    items.append(Item("Resynthesis: a held-out violin render", audio="ddsp_violin_orig.wav"))
    items.append(Item("... and the DDSP violin's version", audio="ddsp_violin_resynth.wav", image="ddsp_resynth.png"))
    return Section(
        "DDSP: timbre transfer to a violin",
        "Differentiable DSP (Engel et al. 2020): a GRU reads pitch (CREPE) and loudness and drives 60 harmonics, "
        "filtered noise and a learned reverb. Trained here on "
        f"{f['train_minutes_of_audio']:.0f} minutes of FluidSynth violin playing Essen tunes "
        f"(validation spectral distance {f['spectral_distance']:.2f}, median f0 error "
        f"{f['f0_error_cents']:.1f} cents with {100 * f['f0_outliers']:.1f}% of frames off by more than 50 cents, "
        f"loudness error {f['loudness_error_db']:.1f} dB). `cadenza ddsp transfer IN.wav -o OUT.wav` plays any "
        "monophonic recording with it.",
        items,
    )
