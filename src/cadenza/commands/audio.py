"""`cadenza data render | textures`, `cadenza ddsp train | transfer` and `cadenza noiseband train | generate`:
the audio datasets and the two control-driven synthesizers (DDSP, NoiseBandNet)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cadenza.errors import InputError

DDSP_CARD = """# DDSP {instrument} (cadenza)

Differentiable Digital Signal Processing (Engel et al. 2020): a GRU decoder reads f0 (CREPE {f0}) and A-weighted
loudness at {frame_rate} frames/s and drives {n_harmonics} harmonics, {n_bands} bands of filtered noise and a
learned {reverb} s reverb, at {sample_rate} Hz. Trained with the multi-scale spectral loss on
{minutes:.1f} minutes of the train split of `{data}` (rendered with FluidSynth from corpus pieces).

- Config: `{config}`
- Optimization: `{train}`
- Command: `{command}`
- Wall time: {wall:.1f} min on this machine's CPU

| figure (validation clips, whole) | value |
|---|---|
{figures}

`spectral_distance` is the training loss (the DDSP multi-scale spectral distance, FFT 2048..64) between each clip
and its resynthesis from its own f0 and loudness; `f0_error_cents` is the median |cents| between CREPE on the
clip and CREPE on the resynthesis (confident frames), `f0_outliers` the share above 50 cents, and
`loudness_error_db` the mean |dB| of A-weighted loudness (frames above -60 dB).

    cadenza ddsp transfer voice.wav -o violin.wav          # this model is the default
"""

NBN_CARD = """# NoiseBandNet {kind} (cadenza)

NoiseBandNet (Barahona-Rios & Collins 2024): {n_bands} fixed noise bands (linear, then logarithmic spacing) at
{sample_rate} Hz; a GRU maps loudness and spectral centroid ({frame_rate} frames/s) to per-band amplitudes.
Synth: `{synth}`. Trained with the multi-resolution STFT loss on the train split of `{data}` ({kind}).

- Config: `{config}`
- Optimization: `{train}`
- Command: `{command}`
- Wall time: {wall:.1f} min on this machine's CPU

| figure | value |
|---|---|
{figures}
"""


# ------------------------------------------------------------------------------------------------ data


def cmd_data_render(args: argparse.Namespace) -> int:
    from cadenza.audio.datasets import render_dataset

    corpus = args.corpus[0] if len(args.corpus) == 1 else args.corpus
    program = args.program[0] if len(args.program) == 1 else args.program
    entries = render_dataset(corpus, program, args.output, minutes=args.minutes,
                             sample_rate=args.sample_rate, seed=args.seed, soundfont=args.soundfont)  # fmt: skip
    splits = Counter(e.split for e in entries)
    minutes = sum(e.duration_s for e in entries) / 60
    print(f"wrote {args.output}: {len(entries)} clips, {minutes:.1f} min at {args.sample_rate} Hz "
          f"(train {splits['train']}, valid {splits['valid']}, test {splits['test']}) and manifest.jsonl")  # fmt: skip
    print(f"e.g. {entries[0].file}: {entries[0].caption}")
    return 0


def cmd_data_textures(args: argparse.Namespace) -> int:
    from cadenza.audio.textures import build_textures

    entries = build_textures(args.kind, args.output, n_clips=args.clips, duration_s=args.duration,
                             sample_rate=args.sample_rate, seed=args.seed)  # fmt: skip
    print(
        f"wrote {args.output}: {len(entries)} clips of {args.duration:g} s ({', '.join(args.kind)}) and manifest.jsonl"
    )
    print(f"e.g. {entries[0]['file']}: {entries[0]['caption']}")
    return 0


# ------------------------------------------------------------------------------------------------ ddsp


def cmd_ddsp_train(args: argparse.Namespace) -> int:
    from cadenza.audio.ddsp import DDSPConfig, save_ddsp, train_ddsp
    from cadenza.cli import _card_figures, card_command
    from cadenza.train.loop import TrainConfig

    cfg = DDSPConfig(hidden=args.hidden, n_harmonics=args.harmonics, batch_size=args.batch_size,
                     f0_method=args.f0)  # fmt: skip
    tc = TrainConfig(max_steps=args.steps, lr=args.lr, warmup_steps=min(100, args.steps // 10), grad_clip=3.0,
                     eval_every=args.eval_every, checkpoint_every=args.eval_every, seed=args.seed,
                     threads=args.threads)  # fmt: skip
    run = Path(args.output) / "run"
    model, figures = train_ddsp(args.data, run, cfg, tc)
    manifest = [json.loads(x) for x in (Path(args.data) / "manifest.jsonl").read_text().splitlines() if x]
    instrument = Counter(e.get("instrument", "sound") for e in manifest).most_common(1)[0][0].lower()
    card = DDSP_CARD.format(
        instrument=instrument, f0=cfg.f0_method, frame_rate=cfg.frame_rate, n_harmonics=cfg.n_harmonics,
        n_bands=cfg.n_noise_bands, reverb=cfg.reverb_s, sample_rate=cfg.sample_rate,
        minutes=figures["train_minutes_of_audio"], data=args.data, config=json.dumps(asdict(cfg)),
        train=json.dumps(asdict(tc)), command=card_command("cadenza ddsp train ..."),
        wall=figures["train_seconds"] / 60, figures=_card_figures(figures),
    )  # fmt: skip
    save_ddsp(model, args.output, figures, card)
    print(f"valid spectral distance {figures['spectral_distance']:.3f}, f0 error {figures['f0_error_cents']:.1f} "
          f"cents, loudness error {figures['loudness_error_db']:.2f} dB")  # fmt: skip
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")
    return 0


def cmd_ddsp_transfer(args: argparse.Namespace) -> int:
    from cadenza.audio.ddsp import load_ddsp, timbre_transfer
    from cadenza.io.audio import read_audio, write_audio
    from cadenza.paths import models_dir, shipped_model

    folder = Path(args.model) if args.model else shipped_model("ddsp-violin", "config.json").parent
    model, config = load_ddsp(folder)
    notes: list[str] = []
    clip = read_audio(args.input, sample_rate=model.cfg.sample_rate, mono=True, notes=notes)
    for n in notes:
        print(f"{args.input}: {n}")
    try:
        out, plan, _ = timbre_transfer(model, clip, pitch_shift=args.pitch_shift, loudness_shift_db=args.loudness_shift,
                                       f0_method=args.f0, figures=config.get("figures"))  # fmt: skip
    except ValueError as e:
        raise InputError(args.input, str(e)) from None
    write_audio(out, args.output)
    name = folder.name if folder.parent == models_dir() else str(folder)
    print(f"pitch {plan.pitch_shift:+g} semitones, loudness {plan.loudness_shift_db:+.1f} dB, "
          f"{plan.quiet_frames:.0%} of frames unpitched (turned down)")  # fmt: skip
    print(f"wrote {args.output} ({out.duration_s:.1f} s, played by {name})")
    return 0


# ------------------------------------------------------------------------------------------------ noiseband


def cmd_noiseband_train(args: argparse.Namespace) -> int:
    from cadenza.audio.noisebandnet import NoiseBandConfig, save_noiseband, train_noiseband
    from cadenza.cli import _card_figures, card_command
    from cadenza.train.loop import TrainConfig

    cfg = NoiseBandConfig(n_bands=args.bands, synth=args.synth, hidden=args.hidden)
    tc = TrainConfig(max_steps=args.steps, lr=args.lr, warmup_steps=min(100, args.steps // 10),
                     eval_every=args.eval_every, checkpoint_every=args.eval_every, seed=args.seed,
                     threads=args.threads)  # fmt: skip
    model, figures = train_noiseband(args.data, Path(args.output) / "run", cfg, tc, kind=args.kind)
    card = NBN_CARD.format(
        kind=args.kind or "all kinds", n_bands=cfg.n_bands, sample_rate=cfg.sample_rate, frame_rate=cfg.frame_rate,
        synth=cfg.synth, data=args.data, config=json.dumps(asdict(cfg)), train=json.dumps(asdict(tc)),
        command=card_command("cadenza noiseband train ..."), wall=figures["train_seconds"] / 60,
        figures=_card_figures(figures),
    )  # fmt: skip
    save_noiseband(model, args.output, figures, card)
    print(f"valid multi-resolution STFT distance {figures['valid_mrstft']:.3f}")
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")
    return 0


def cmd_noiseband_generate(args: argparse.Namespace) -> int:
    from cadenza.audio.noisebandnet import control_curves, generate_from_controls, load_noiseband, read_control_csv
    from cadenza.io.audio import read_audio, write_audio
    from cadenza.paths import shipped_model

    if bool(args.control) == bool(args.source):
        raise InputError("--control/--from", "give one: a control curve CSV (--control) or a sound (--from)")
    folder = Path(args.model) if args.model else shipped_model("noisebandnet-wind", "config.json").parent
    model, _ = load_noiseband(folder)
    cfg = model.cfg
    if args.control:
        controls = read_control_csv(args.control, cfg.frame_rate)
    else:
        notes: list[str] = []
        clip = read_audio(args.source, sample_rate=cfg.sample_rate, mono=True, notes=notes)
        for n in notes:
            print(f"{args.source}: {n}")
        if clip.n_samples < 2 * cfg.hop:
            raise InputError(args.source, "too short to take control curves from")
        controls = control_curves(clip.samples[0], cfg.sample_rate, cfg.frame_rate)
    out = generate_from_controls(model, controls, seed=args.seed)
    write_audio(out, args.output)
    print(f"wrote {args.output} ({out.duration_s:.1f} s from {len(controls)} control frames)")
    return 0


# ------------------------------------------------------------------------------------------------ parsers


def add_parsers(sub: Any) -> None:
    from cadenza.audio.dsp import F0_METHODS
    from cadenza.audio.textures import KINDS

    data = sub.add_parser("data", help="build audio datasets: rendered corpus pieces, procedural textures")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    r = dsub.add_parser("render", help="render corpus pieces with one GM instrument (+ manifest with captions)")
    r.add_argument("--corpus", nargs="+", default=["essen"], help="corpus names or folders (default essen)")
    r.add_argument(
        "--program",
        nargs="+",
        default=["violin"],
        help="GM instrument(s), name or number (default violin); with several, each piece draws one",
    )
    r.add_argument("--minutes", type=float, default=10.0, help="total audio to render (default 10)")
    r.add_argument("--sample-rate", type=int, default=16000)
    r.add_argument("--soundfont", help="a .sf2 file (default: the General MIDI SoundFont)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("-o", "--output", required=True, help="new dataset folder")
    r.set_defaults(func=cmd_data_render)
    t = dsub.add_parser("textures", help="procedural sound textures driven by parameters in [0, 1]")
    t.add_argument("--kind", nargs="+", default=["wind"], choices=sorted(KINDS), help="one or more kinds")
    t.add_argument("--clips", type=int, default=40, help="clips per kind (default 40)")
    t.add_argument("--duration", type=float, default=8.0, help="seconds per clip (default 8)")
    t.add_argument("--sample-rate", type=int, default=16000)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("-o", "--output", required=True, help="new dataset folder")
    t.set_defaults(func=cmd_data_textures)

    ddsp = sub.add_parser("ddsp", help="DDSP: train an instrument, timbre transfer")
    ddsub = ddsp.add_subparsers(dest="ddsp_command", required=True, metavar="ACTION")
    dt = ddsub.add_parser("train", help="train on a dataset folder (resumes from OUTPUT/run)")
    dt.add_argument("--data", required=True, help="a folder from `cadenza data render`")
    dt.add_argument("--steps", type=int, default=3000)
    dt.add_argument("--lr", type=float, default=1e-3)
    dt.add_argument("--hidden", type=int, default=256)
    dt.add_argument("--harmonics", type=int, default=60)
    dt.add_argument("--batch-size", type=int, default=8)
    dt.add_argument("--f0", default="crepe-tiny", choices=F0_METHODS)
    dt.add_argument("--eval-every", type=int, default=250)
    dt.add_argument("--threads", type=int, default=0)
    dt.add_argument("--seed", type=int, default=0)
    dt.add_argument("-o", "--output", required=True, help="model folder")
    dt.set_defaults(func=cmd_ddsp_train)
    dx = ddsub.add_parser("transfer", help="play a monophonic recording with the model's instrument")
    dx.add_argument("input", help="a .wav/.flac/.ogg recording (mono or mixed down)")
    dx.add_argument("--model", help="model folder (default: the shipped models/ddsp-violin)")
    dx.add_argument("--pitch-shift", type=float, help="semitones (default: whole octaves towards the instrument)")
    dx.add_argument("--loudness-shift", type=float, help="dB (default: match the training loudness)")
    dx.add_argument("--f0", choices=F0_METHODS, help="pitch tracker (default: the model's)")
    dx.add_argument("-o", "--output", required=True, help="output .wav")
    dx.set_defaults(func=cmd_ddsp_transfer)

    nb = sub.add_parser("noiseband", help="NoiseBandNet: sound textures from noise bands driven by curves")
    nsub = nb.add_subparsers(dest="noiseband_command", required=True, metavar="ACTION")
    nt = nsub.add_parser("train", help="train on a texture folder (resumes from OUTPUT/run)")
    nt.add_argument("--data", required=True, help="a folder from `cadenza data textures`")
    nt.add_argument("--kind", help="train on one texture kind of the folder (default: all)")
    nt.add_argument("--synth", default="noisebands", choices=["noisebands", "ddsp-noise"])
    nt.add_argument("--bands", type=int, default=256)
    nt.add_argument("--hidden", type=int, default=128)
    nt.add_argument("--steps", type=int, default=1500)
    nt.add_argument("--lr", type=float, default=1e-3)
    nt.add_argument("--eval-every", type=int, default=250)
    nt.add_argument("--threads", type=int, default=0)
    nt.add_argument("--seed", type=int, default=0)
    nt.add_argument("-o", "--output", required=True, help="model folder")
    nt.set_defaults(func=cmd_noiseband_train)
    ng = nsub.add_parser("generate", help="a texture from a drawn curve (CSV) or from another sound's curves")
    ng.add_argument("--model", help="model folder (default: the shipped models/noisebandnet-wind)")
    ng.add_argument("--control", help="CSV rows time_s,loudness_db,centroid_hz")
    ng.add_argument("--from", dest="source", help="a sound whose loudness and centroid drive the model")
    ng.add_argument("--seed", type=int, default=0)
    ng.add_argument("-o", "--output", required=True, help="output .wav")
    ng.set_defaults(func=cmd_noiseband_generate)
