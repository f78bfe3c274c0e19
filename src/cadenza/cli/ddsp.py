"""`cadenza ddsp train | transfer`: DDSP timbre transfer (harmonic + filtered-noise synths, learned reverb)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.ddsp import CARD, DDSPConfig, train_ddsp

    cfg = DDSPConfig(hidden=args.hidden, n_harmonics=args.harmonics, batch_size=args.batch_size, f0_method=args.f0)
    tc = common.train_config(args, grad_clip=3.0)
    model, figures = train_ddsp(args.data, Path(args.output) / "run", cfg, tc, new_segment=args.new_segment)
    manifest = [json.loads(x) for x in (Path(args.data) / "manifest.jsonl").read_text().splitlines() if x]
    instrument = Counter(e.get("instrument", "sound") for e in manifest).most_common(1)[0][0].lower()
    print(f"valid spectral distance {figures['spectral_distance']:.3f}, f0 error {figures['f0_error_cents']:.1f} "
          f"cents, loudness error {figures['loudness_error_db']:.2f} dB")  # fmt: skip
    common.save_trained(model, args, figures, CARD, instrument=instrument, f0=cfg.f0_method, frame_rate=cfg.frame_rate,
                        n_harmonics=cfg.n_harmonics, n_bands=cfg.n_noise_bands, reverb=cfg.reverb_s,
                        sample_rate=cfg.sample_rate, minutes=figures["train_minutes_of_audio"], data=args.data,
                        config=json.dumps(asdict(cfg)))  # fmt: skip
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from cadenza.audio.ddsp import DDSP, timbre_transfer
    from cadenza.io.audio import read_audio, write_audio

    common.set_threads(args)
    model = DDSP.from_pretrained(args.model)
    notes: list[str] = []
    clip = read_audio(args.input, sample_rate=model.cfg.sample_rate, mono=True, notes=notes)
    for n in notes:
        print(f"{args.input}: {n}")
    try:
        out, plan, _ = timbre_transfer(model, clip, pitch_shift=args.pitch_shift, loudness_shift_db=args.loudness_shift,
                                       f0_method=args.f0, figures=model.figures)  # fmt: skip
    except ValueError as e:
        raise InputError(args.input, str(e)) from None
    write_audio(out, args.output)
    print(f"pitch {plan.pitch_shift:+g} semitones, loudness {plan.loudness_shift_db:+.1f} dB, "
          f"{plan.quiet_frames:.0%} of frames unpitched (turned down)")  # fmt: skip
    print(f"wrote {args.output} ({out.duration_s:.1f} s, played by {args.model or DDSP.shipped})")
    return 0


def register(sub: Any) -> None:
    ddsp = sub.add_parser("ddsp", help="DDSP: train an instrument, timbre transfer")
    ddsub = ddsp.add_subparsers(dest="ddsp_command", required=True, metavar="ACTION")
    t = ddsub.add_parser("train", help="train on a dataset folder (from `cadenza data render`)")
    t.add_argument("--data", required=True, help="a folder from `cadenza data render`")
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--harmonics", type=int, default=60)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--f0", default="crepe-tiny", help="pitch tracker: crepe-tiny (default), crepe-full, pyin")
    common.add_training(t, steps=3000, lr=1e-3)
    t.set_defaults(func=cmd_train)
    x = ddsub.add_parser("transfer", help="play a monophonic recording with the model's instrument")
    x.add_argument("input", help="a .wav/.flac/.ogg recording (mono or mixed down)")
    common.add_model(x, "ddsp-violin")
    x.add_argument("--pitch-shift", type=float, help="semitones (default: whole octaves towards the instrument)")
    x.add_argument("--loudness-shift", type=float, help="dB (default: match the training loudness)")
    x.add_argument("--f0", help="pitch tracker: crepe-tiny, crepe-full, pyin (default: the model's)")
    common.add_threads(x)
    common.add_output(x, "output .wav")
    x.set_defaults(func=cmd_transfer)
