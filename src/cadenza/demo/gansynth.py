"""Demo section: GANSynth: a chorale played by a GAN-made instrument, and a timbre interpolation at one pitch."""

from __future__ import annotations

from pathlib import Path

from cadenza.demo.page import Item, Section, held_out_chorale


def build(out_dir: Path) -> Section:
    import numpy as np

    from cadenza.audio.gansynth import GANSynth
    from cadenza.core.audio import AudioClip
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    model = GANSynth.from_pretrained().eval()
    sr, f = model.cfg.sample_rate, model.figures
    chorale = held_out_chorale(0)
    chorale = chorale.replace(tempo_bpm=72.0)
    items = []
    clips = []
    for seed in (0, 3):
        audio, moved = model.render(chorale, seed=seed)
        clip = AudioClip(audio[None], sr).slice_s(0, 16.0)
        write_audio(clip, out_dir / f"gansynth_chorale_{seed}.wav")
        clips.append((f"timbre (seed) {seed}", clip))
        items.append(Item(f"A held-out Bach chorale ({chorale.title}), every note generated at its pitch with one "
                          f"latent, seed {seed}" + (f" ({moved} notes moved by octaves)" if moved else ""),
                          audio=f"gansynth_chorale_{seed}.wav"))  # fmt: skip
    spectrograms_png(clips, out_dir / "gansynth_chorale.png")
    items[-1] = Item(items[-1].title, audio=items[-1].audio, image="gansynth_chorale.png")
    z = model.interpolate(model.latents(1, 11)[0], model.latents(1, 12)[0], 5)
    notes = model.generate([60] * 5, z=z)
    gap = np.zeros(int(0.15 * sr), dtype=np.float32)
    morph = AudioClip(np.concatenate([np.concatenate([n, gap]) for n in notes])[None], sr).limit_peak(-1.0)
    write_audio(morph, out_dir / "gansynth_interpolation.wav")
    items.append(Item("Timbre interpolation at middle C: five notes on the great circle between two latents",
                      audio="gansynth_interpolation.wav"))  # fmt: skip
    items += _phases(out_dir)
    kind = ("the IF network (the paper's)" if model.cfg.if_channel else
            "the magnitude-only network (the paper's ablation), which measured better here than the IF")  # fmt: skip
    return Section(
        "GANSynth: an instrument made by a GAN",
        "GANSynth (Engel et al. 2019) at a CPU's size, trained here on the NSynth-like note set "
        "(`cadenza data notes`: 52 General MIDI instruments through three SoundFonts): a generator makes a whole "
        "1 s note at once, as the log magnitude (and, in the paper, the instantaneous frequency) of its spectrogram, "
        "from a latent (the timbre) and a pitch, here also given as a map of where that pitch's harmonics fall "
        "(`--pitch-map`, not in the paper: without it 64 minutes on this CPU made unpitched noise). "
        f"Played here: {kind}, its notes given the phase of an in-tune harmonic note at their pitch "
        f"(`--phase {model.phases[0]}`). "
        f"CREPE hears the pitch asked for in {100 * f.get('pitch_pitch_accuracy', float('nan')):.0f}% of notes "
        "(one per pitch, fixed latents); notes of one pitch differ from latent "
        f"to latent by a timbre spread of {f.get('timbre_spread', float('nan')):.2f} (real instruments: about 0.17; "
        "near 0 is mode collapse, where every latent makes the same note). "
        "`cadenza gansynth render song.mid -o song.wav` plays any score with it.",
        items,
    )


def _phases(out_dir: Path) -> list[Item]:
    """The same notes from both shipped networks, each way of getting their phase, as sound and spectrograms."""
    import numpy as np

    from cadenza.audio.gansynth import GANSynth
    from cadenza.core.audio import AudioClip
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import write_audio

    clips, pitches = [], [40, 52, 64, 76]
    for name in ("gansynth-notes", "gansynth-notes-magnitude"):
        model = GANSynth.from_pretrained(name).eval()
        gap = np.zeros(int(0.1 * model.cfg.sample_rate), dtype=np.float32)
        for phase in ("drawn", "in-tune") if model.cfg.if_channel else ("griffin-lim", "in-tune"):
            notes = model.generate(pitches, seed=7, phase=phase)
            audio = np.concatenate([np.concatenate([n, gap]) for n in notes])
            clips.append((f"{name}, {phase} phase", AudioClip(audio[None], model.cfg.sample_rate).limit_peak(-1.0)))
    items = []
    for title, clip in clips:
        name = title.replace(", ", "_").replace(" phase", "").replace("-", "_") + ".wav"
        write_audio(clip, out_dir / name)
        items.append(Item(f"MIDI 40, 52, 64, 76 from one latent: {title}", audio=name))
    spectrograms_png(clips, out_dir / "gansynth_phases.png")
    items[-1] = Item(items[-1].title + " (the default: the best measured)", audio=items[-1].audio,
                     image="gansynth_phases.png")  # fmt: skip
    return items
