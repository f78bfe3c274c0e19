"""Demo section: GANSynth: an instrument from a latent."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section


def build(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.audio.gansynth import GANSynth
    from cadenza.core.audio import AudioClip
    from cadenza.corpus import jsb_raw
    from cadenza.encodings.satb_grid import grid_to_score
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    model = GANSynth.from_pretrained()
    sr = model.cfg.sample_rate

    def joined(notes: np.ndarray, gap_s: float = 0.05) -> AudioClip:
        gap = np.zeros(int(gap_s * sr), dtype=np.float32)
        x = np.concatenate([np.concatenate([n, gap]) for n in notes]).astype(np.float32)
        return AudioClip(x[None] * min(1.0, 0.89 / max(1e-6, float(np.abs(x).max()))), sr)

    arpeggio = joined(model.generate([48, 52, 55, 60, 64, 67, 72], z=model.latents(1, seed=3)))
    write_audio(arpeggio, out_dir / "gansynth_arpeggio.wav")
    a, b = model.latents(1, seed=3)[0], model.latents(1, seed=11)[0]
    morph = joined(model.generate([60] * 5, z=GANSynth.interpolate(a, b, 5)))
    write_audio(morph, out_dir / "gansynth_morph.wav")
    spectrograms_png([("one latent, C major arpeggio (MIDI 48-72)", arpeggio),
                      ("MIDI 60, from seed 3's timbre to seed 11's in 5 steps", morph)],
                     out_dir / "gansynth.png")  # fmt: skip
    grid = jsb_raw()["test"][0][:128]  # the first 8 bars of a chorale it never saw, four voices
    chorale = grid_to_score(grid, title="JSB test chorale 0").replace(tempo_bpm=72.0)
    audio, _ = model.render(chorale, seed=3)
    write_audio(AudioClip(audio[None], sr), out_dir / "gansynth_chorale.wav")
    f = model.figures
    return Section(
        "GANSynth: an instrument from a latent",
        "GANSynth (Engel et al. 2019) makes a whole note at once, as the log magnitude and instantaneous frequency of "
        f"its spectrogram, from a latent (the timbre) and a pitch. Trained here on {f.get('train_notes', '?')} notes "
        "that cadenza rendered from 52 General MIDI instruments (`cadenza data notes`), at a CPU's size: 1 s notes, "
        f"MIDI {model.cfg.pitch_low}-{model.cfg.pitch_high}. On one note per pitch, CREPE hears the pitch asked for in "
        f"{100 * f.get('pitch_pitch_accuracy', float('nan')):.0f}% (real notes: 96%; benchmarks/gansynth.py). "
        "`cadenza gansynth render song.mid -o song.wav` plays a score with it.",
        [
            Item("One latent across two octaves", audio="gansynth_arpeggio.wav", image="gansynth.png"),
            Item("A timbre interpolation at middle C", audio="gansynth_morph.wav"),
            Item(
                "A Bach chorale it never saw, every note generated at its pitch with one latent",
                audio="gansynth_chorale.wav",
            ),  # fmt: skip
        ],
    )
