"""`cadenza noisebandnet train | generate`: sound textures from noise bands driven by control curves."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.noisebandnet import CARD, NoiseBandConfig, train_noiseband

    if args.synth not in ("noisebands", "ddsp-noise"):
        raise InputError("--synth", f"must be noisebands or ddsp-noise, not {args.synth!r}")
    cfg = NoiseBandConfig(n_bands=args.bands, synth=args.synth, hidden=args.hidden)
    tc = common.train_config(args)
    model, figures = train_noiseband(args.data, Path(args.output) / "run", cfg, tc, kind=args.kind,
                                     new_segment=args.new_segment)  # fmt: skip
    print(f"valid multi-resolution STFT distance {figures['valid_mrstft']:.3f}")
    common.save_trained(model, args, figures, CARD, kind=args.kind or "all kinds", n_bands=cfg.n_bands,
                        sample_rate=cfg.sample_rate, frame_rate=cfg.frame_rate, synth=cfg.synth, data=args.data,
                        config=json.dumps(asdict(cfg)))  # fmt: skip
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cadenza.audio.noisebandnet import NoiseBandNet, control_curves, generate_from_controls, read_control_csv
    from cadenza.io.audio import read_audio, write_audio

    if bool(args.control) == bool(args.source):
        raise InputError("--control/--from", "give one: a control curve CSV (--control) or a sound (--from)")
    common.set_threads(args)
    model = NoiseBandNet.from_pretrained(args.model)
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


def register(sub: Any) -> None:
    nb = sub.add_parser("noisebandnet", help="NoiseBandNet: sound textures from noise bands driven by curves")
    nsub = nb.add_subparsers(dest="noiseband_command", required=True, metavar="ACTION")
    t = nsub.add_parser("train", help="train on a texture folder (from `cadenza data textures`)")
    t.add_argument("--data", required=True, help="a folder from `cadenza data textures`")
    t.add_argument("--kind", help="train on one texture kind of the folder (default: all)")
    t.add_argument("--synth", default="noisebands", help="noisebands (default) or ddsp-noise (the baseline)")
    t.add_argument("--bands", type=int, default=256)
    t.add_argument("--hidden", type=int, default=128)
    common.add_training(t, steps=1500, lr=1e-3)
    t.set_defaults(func=cmd_train)
    g = nsub.add_parser("generate", help="a texture from a drawn curve (CSV) or from another sound's curves")
    common.add_model(g, "noisebandnet-wind")
    g.add_argument("--control", help="CSV rows time_s,loudness_db,centroid_hz")
    g.add_argument("--from", dest="source", help="a sound whose loudness and centroid drive the model")
    g.add_argument("--seed", type=int, default=0)
    common.add_threads(g)
    common.add_output(g, "output .wav")
    g.set_defaults(func=cmd_generate)
