"""Demo section: text-to-music: prompts the model never saw worded so, a melody it is asked to follow, the same
prompt by latent diffusion, and a recording edited towards a new prompt."""

from __future__ import annotations

import tempfile
from pathlib import Path

from cadenza.demo.page import Item, Section

PROMPTS = (
    "a slow cello melody in D minor, 3/4, played softly",
    "a lively flute melody in G major",
    "a church organ four-part chorale in C major",
)
TEMPI = (60, 150)  # the same prompt asked at these tempi, without and with the clock's own guidance
BEAT_GUIDANCE = 64.0  # on the first codebook (`--beat-codebooks 1`, the CLI's default)
# Ode to Joy, first phrase (MIDI pitch, quarter lengths): the melody the last item follows
ODE = ((64, 1), (64, 1), (65, 1), (67, 1), (67, 1), (65, 1), (64, 1), (62, 1), (60, 1), (60, 1), (62, 1), (64, 1),
       (64, 1.5), (62, 0.5), (62, 2))  # fmt: skip


def build(out_dir: Path) -> Section:
    import torch

    from cadenza.audio.latent_diffusion import LatentDiffusion
    from cadenza.audio.text2music import Text2Music, melody_bins
    from cadenza.core.audio import AudioClip
    from cadenza.core.score import Note, Part, Score
    from cadenza.evaluate.plots import spectrograms_png
    from cadenza.io.audio import read_audio, write_audio
    from cadenza.render.fluidsynth import render_score

    torch.set_num_threads(1)
    model = Text2Music.from_pretrained()
    codec, rate = model.codec, model.cfg.frame_rate
    n = round(8.0 * rate)
    items = []
    for i, prompt in enumerate(PROMPTS):
        clip = AudioClip(codec.decode_chunked(model.generate(prompt, n, seed=i))[0].numpy(), codec.sample_rate)
        write_audio(clip, out_dir / f"t2m_{i}.wav")
        spectrograms_png([(f"text2music: {prompt!r}", clip)], out_dir / f"t2m_{i}.png")
        items.append(Item(f"“{prompt}” (guidance 3, seed {i})", audio=f"t2m_{i}.wav", image=f"t2m_{i}.png"))
    for bpm in TEMPI:  # one prompt at two tempi: the beat tracker's reading beside the one asked
        prompt = f"a marimba melody in C major, {bpm} bpm"
        for bg, tag in ((None, ""), (BEAT_GUIDANCE, "_bg")):
            codes = model.generate(prompt, n, seed=7, beat_guidance=bg, beat_codebooks=1)
            clip = AudioClip(codec.decode_chunked(codes)[0].numpy(), codec.sample_rate)
            write_audio(clip, out_dir / f"t2m_{bpm}bpm{tag}.wav")
            how = "guidance 3" if bg is None else f"guidance 3, beat guidance {bg:g} on the first codebook"
            spectrograms_png([(f"text2music: {prompt!r} ({how})", clip)], out_dir / f"t2m_{bpm}bpm{tag}.png")
            heard = _tempo(clip.samples[0], codec.sample_rate)
            items.append(Item(f"“{prompt}” ({how}, seed 7): librosa's beat tracker hears {heard:.0f} bpm",
                              audio=f"t2m_{bpm}bpm{tag}.wav", image=f"t2m_{bpm}bpm{tag}.png"))  # fmt: skip
    notes, t = [], 0.0
    for pitch, d in ODE:
        notes.append(Note(pitch, t, d))
        t += d
    tune = Score(parts=(Part(tuple(notes), name="melody"),), tempo_bpm=100.0)
    with tempfile.TemporaryDirectory() as tmp:
        wav = render_score(tune, Path(tmp) / "ode.wav", sample_rate=codec.sample_rate, program=0, effects=False)
        piano = read_audio(wav, sample_rate=codec.sample_rate, mono=True)
    write_audio(piano, out_dir / "t2m_ode_piano.wav")
    bins = melody_bins(piano.samples[0], codec.sample_rate, rate, n)
    prompt = "a trumpet melody in C major"
    clip = AudioClip(codec.decode_chunked(model.generate(prompt, n, melody=bins, seed=0))[0].numpy(),
                     codec.sample_rate)  # fmt: skip
    write_audio(clip, out_dir / "t2m_ode.wav")
    spectrograms_png([("the melody given (piano)", piano), (f"text2music: {prompt!r} following it", clip)],
                     out_dir / "t2m_ode.png")  # fmt: skip
    items.append(Item(f"“{prompt}” with `--melody` (Ode to Joy played on a piano: t2m_ode_piano.wav)",
                      audio="t2m_ode.wav", image="t2m_ode.png"))  # fmt: skip
    diffusion = LatentDiffusion.from_pretrained()
    y = diffusion.generate(PROMPTS[0], n, steps=25, guidance=3.0, seed=0)
    write_audio(AudioClip(y, codec.sample_rate), out_dir / "ld_0.wav")
    spectrograms_png([(f"latent diffusion: {PROMPTS[0]!r}", AudioClip(y, codec.sample_rate))], out_dir / "ld_0.png")
    items.append(Item(f"the same prompt by latent diffusion: “{PROMPTS[0]}” (25 DDIM steps, guidance 3)",
                      audio="ld_0.wav", image="ld_0.png"))  # fmt: skip
    cello = "a cello melody in C major"
    edited = AudioClip(diffusion.edit(piano.samples[0], cello, strength=0.6, steps=25, seed=0), codec.sample_rate)
    write_audio(edited, out_dir / "ld_cello.wav")
    spectrograms_png([("the piano given", piano), (f"edited towards {cello!r} (strength 0.6)", edited)],
                     out_dir / "ld_cello.png")  # fmt: skip
    items.append(Item(f"“make it a cello”: `cadenza latent-diffusion edit ode.wav \"{cello}\" --strength 0.6`",
                      audio="ld_cello.wav", image="ld_cello.png"))  # fmt: skip
    f = model.figures
    return Section(
        "Text-to-music: a small MusicGen over cadenza's codec",
        "A decoder over 4 codebooks of cadenza's codec in MusicGen's delay pattern, cross-attending to the frozen "
        "MiniLM sentence encoder's tokens, trained here on renders of folk tunes and chorales captioned with what was "
        f"rendered (instrument, tempo, key, meter, register, dynamics). On held-out clips the codes cost "
        f"{f['valid_loss']:.2f} nats each with their own caption, {f['valid_loss_shuffled_text']:.2f} with another "
        f"clip's and {f['valid_loss_no_text']:.2f} with none: the words carry information. "
        '`cadenza text2music "a slow cello melody in D minor" --seconds 10 -o cello.wav`; `--melody tune.mid` to '
        "follow a tune, `--continue intro.wav` to go on from a recording. A prompt's tempo (150 bpm, or a word "
        "such as slow) drives a beat clock; `--beat-guidance 64` guides the clock on its own (on the first, coarsest "
        "codebook) and holds the tempo much better, at a cost in timbre (BENCHMARKS.md measures both). The latent "
        "diffusion model (the other family) answers the same prompts and edits a recording towards a new one.",
        items,
    )


def _tempo(y: object, sample_rate: int) -> float:
    import librosa
    import numpy as np

    return float(np.atleast_1d(librosa.beat.beat_track(y=np.asarray(y), sr=sample_rate)[0])[0])
