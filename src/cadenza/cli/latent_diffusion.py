"""`cadenza latent-diffusion train | generate | edit`: text-to-music by diffusion over the codec's continuous latent
(the second family beside `cadenza text2music`), and editing a given audio towards a prompt (SDEdit)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.cli.text2music import MAX_SECONDS, read_melody
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.latent_diffusion import LatentDiffusionConfig
    from cadenza.audio.latent_diffusion_train import CARD, train_latent_diffusion

    try:
        base = LatentDiffusionConfig(codec=args.codec, n_layer=args.layers, n_head=args.heads, n_embd=args.width,
                                     dropout=args.dropout)  # fmt: skip
    except ValueError as e:
        raise InputError("latent-diffusion config", str(e)) from None
    if args.window_frames < 8:
        raise InputError("--window-frames", "must be at least 8")
    tc = common.train_config(args, warmup_steps=min(200, args.steps // 10), betas=(0.9, 0.99))
    model, figures = train_latent_diffusion(args.data, Path(args.output) / "run", base, tc,
                                            window_frames=args.window_frames, batch_size=args.batch_size,
                                            init_from=args.init_from, new_segment=args.new_segment)  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith("valid_")))
    cfg = model.cfg
    common.save_trained(
        model, args, figures, CARD, name=Path(args.output).name, codec=cfg.codec, latent_dim=cfg.latent_dim,
        frame_rate=cfg.frame_rate, n_layer=cfg.n_layer, n_embd=cfg.n_embd, n_head=cfg.n_head,
        text_dropout=cfg.text_dropout, melody_dropout=cfg.melody_dropout,
        n_params=sum(p.numel() for p in model.parameters()), data=" + ".join(f"`{d}`" for d in args.data),
        minutes_audio=figures["train_minutes_of_audio"], config=json.dumps(asdict(cfg)),
        window_frames=args.window_frames, batch_size=args.batch_size,
    )  # fmt: skip
    return 0


def _check(args: argparse.Namespace) -> None:
    if not args.prompt.strip():
        raise InputError("prompt", "is empty: describe the music (e.g. 'a slow cello melody in D minor')")
    if args.steps < 1 or args.guidance < 0:
        raise InputError("sampling", "--steps must be >= 1 and --guidance >= 0")


def _write(args: argparse.Namespace, y: object, sample_rate: int, what: str, seconds: float) -> None:
    import numpy as np

    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    out = write_audio(AudioClip(np.asarray(y, np.float32), sample_rate), args.output)
    print(f"wrote {out}: {what} ({args.steps} DDIM steps, guidance {args.guidance:g}) in {seconds:.1f} s")


def _prompt(model: Any, args: argparse.Namespace) -> Any:
    text, truncated = model.text(args.prompt)
    if truncated:
        print(f"note: the prompt was cut to its first {model.cfg.max_text_tokens} tokens", file=sys.stderr)
    return text


def cmd_generate(args: argparse.Namespace) -> int:
    common.set_threads(args)
    _check(args)
    if not 0 < args.seconds <= MAX_SECONDS:
        raise InputError("--seconds", f"must be in (0, {MAX_SECONDS:g}], got {args.seconds:g}")
    from cadenza.audio.latent_diffusion import LatentDiffusion

    model = LatentDiffusion.from_pretrained(args.model)
    rate = model.cfg.frame_rate
    n_frames = max(1, round(args.seconds * rate))
    codec = model.codec
    melody = read_melody(args.melody, codec.sample_rate, rate, n_frames) if args.melody else None
    text = _prompt(model, args)
    t0 = time.perf_counter()
    y = model.generate(text, n_frames, steps=args.steps, guidance=args.guidance, melody=melody, seed=args.seed)
    what = f"{args.seconds:g} s of {args.prompt!r}" + (f" following {args.melody}" if args.melody else "")
    _write(args, y, codec.sample_rate, what, time.perf_counter() - t0)
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    common.set_threads(args)
    _check(args)
    if not 0 < args.strength <= 1:
        raise InputError("--strength", f"must be in (0, 1], got {args.strength:g}")
    from cadenza.audio.latent_diffusion import LatentDiffusion

    model = LatentDiffusion.from_pretrained(args.model)
    codec = model.codec
    x = common.read_mono(args.input, codec.sample_rate, min_s=0.5).samples[0]
    if len(x) > MAX_SECONDS * codec.sample_rate:
        raise InputError(args.input, f"is longer than {MAX_SECONDS:g} s")
    text = _prompt(model, args)
    t0 = time.perf_counter()
    y = model.edit(x, text, strength=args.strength, steps=args.steps, guidance=args.guidance, seed=args.seed)
    _write(args, y, codec.sample_rate, f"{args.input} moved towards {args.prompt!r} at strength {args.strength:g}",
           time.perf_counter() - t0)  # fmt: skip
    return 0


def _sampling(p: argparse.ArgumentParser) -> None:
    common.add_model(p, "latent-diffusion-small")
    p.add_argument("--steps", type=int, default=25, help="DDIM steps (default 25)")
    p.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance coefficient (default 3)")
    p.add_argument("--seed", type=int, default=0)
    common.add_threads(p)
    common.add_output(p, "output .wav")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("latent-diffusion",
                       help="text-to-music by latent diffusion over the codec; edit audio by prompt")  # fmt: skip
    ssub = s.add_subparsers(dest="verb", required=True, metavar="{generate,edit,train}")

    g = ssub.add_parser("generate", help="music from a prompt")
    g.add_argument("prompt", help='what to play, e.g. "a lively flute melody in G major"')
    g.add_argument("--seconds", type=float, default=8.0, help=f"length (default 8, at most {MAX_SECONDS:g})")
    g.add_argument("--melody", help="follow this melody: an audio file, or a MIDI / MusicXML / ABC file")
    _sampling(g)
    g.set_defaults(func=cmd_generate)

    e = ssub.add_parser("edit", help='move a recording towards a prompt (SDEdit): "make it a cello"')
    e.add_argument("input", help="a .wav/.flac/.ogg recording")
    e.add_argument("prompt", help='the new description, e.g. "a cello melody"')
    e.add_argument("--strength", type=float, default=0.6,
                   help="how far to move it: the noise level it restarts from (0-1; default 0.6)")  # fmt: skip
    _sampling(e)
    e.set_defaults(func=cmd_edit)

    t = ssub.add_parser("train", help="train (or fine-tune) on captioned audio: render datasets or captions.jsonl")
    t.add_argument("--data", required=True, nargs="+",
                   help="dataset folders (`cadenza data render`) or folders of audio with captions.jsonl")  # fmt: skip
    t.add_argument("--init-from", help="fine-tune: start from this model's weights and config")
    t.add_argument("--codec", default="codec-vocos", help="the codec whose latent it models (default codec-vocos)")
    t.add_argument("--layers", type=int, default=6)
    t.add_argument("--heads", type=int, default=6)
    t.add_argument("--width", type=int, default=192)
    t.add_argument("--window-frames", type=int, default=250, help="training window in frames (default 250: 5 s)")
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--batch-size", type=int, default=16)
    common.add_training(t, steps=3000, lr=3e-4, eval_every=250)
    t.set_defaults(func=cmd_train)
