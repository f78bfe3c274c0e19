"""`cadenza smf build | play`: the Sound Model Factory, a texture made playable from data (GAN -> SOM -> path ->
GAN-made data set -> recurrent model that follows a control curve, offline or live)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError

TEXTURE_CLIPS, TEXTURE_SEED = 400, 2  # the texture set rendered when --data is not given (8 s clips)


def cmd_build(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from cadenza.audio.gansynth_train import DISC_GROUP
    from cadenza.audio.smf import CARD, build_sound_model
    from cadenza.audio.textures import KINDS, build_textures
    from cadenza.train.loop import TrainConfig

    common.set_threads(args)
    if args.texture not in KINDS:
        raise InputError("--texture", f"unknown texture kind {args.texture!r} (kinds: {', '.join(KINDS)})")
    for name in ("gan_steps", "rnn_steps", "clips", "som_samples"):
        if getattr(args, name) < 1:
            raise InputError("--" + name.replace("_", "-"), "must be at least 1")
    run = Path(args.output) / "run"
    data = args.data
    if data is None:
        data = run / "textures"
        if not (data / "manifest.jsonl").exists():
            build_textures([args.texture], data, n_clips=TEXTURE_CLIPS, seed=TEXTURE_SEED)
    gan_tc = TrainConfig(max_steps=args.gan_steps, lr=args.gan_lr, betas=(0.5, 0.9), weight_decay=0.0, grad_clip=0.0,
                         warmup_steps=min(100, args.gan_steps // 10), eval_every=args.eval_every,
                         checkpoint_every=args.eval_every, seed=args.seed, threads=args.threads,
                         groups=(DISC_GROUP,))  # fmt: skip
    rnn_tc = TrainConfig(max_steps=args.rnn_steps, lr=args.rnn_lr, warmup_steps=min(100, args.rnn_steps // 10),
                         eval_every=args.eval_every, checkpoint_every=args.eval_every, seed=args.seed,
                         threads=args.threads)  # fmt: skip
    model, figures = build_sound_model(
        data, args.texture, run, gan_tc, rnn_tc, n_clips=args.clips, som_samples=args.som_samples
    )
    figures["train_seconds"] = figures["gan_train_seconds"] + figures["rnn_train_seconds"]
    common.save_trained(model, args, figures, CARD, name=Path(args.output).name, texture=args.texture,
                        param=model.cfg.param, data=data, gan_steps=args.gan_steps, rnn_steps=args.rnn_steps,
                        clips=args.clips, gan_config=json.dumps(asdict(model.gan_cfg)),
                        rnn_config=json.dumps(model.cfg.rnn))  # fmt: skip
    return 0


def _curve(args: argparse.Namespace, frame_rate: int) -> tuple[Any, str]:
    import numpy as np

    from cadenza.audio.smf import control_curve_csv

    if args.curve:
        if args.value is not None:
            raise InputError("--value", "give --curve or --value, not both")
        return control_curve_csv(args.curve, frame_rate), f"the curve of {args.curve}"
    value = 0.5 if args.value is None else args.value
    if not 0.0 <= value <= 1.0:
        raise InputError("--value", f"{value:g} is outside [0, 1]")
    seconds = 8.0 if args.seconds is None else args.seconds
    if seconds <= 0:
        raise InputError("--seconds", f"must be > 0, got {seconds:g}")
    return np.full(round(seconds * frame_rate), value, dtype=np.float32), f"the control at {value:g}"


def cmd_play(args: argparse.Namespace) -> int:
    from cadenza.audio.smf import SoundModel
    from cadenza.io.audio import write_audio

    common.set_threads(args)
    if args.output == "-" and not args.live:
        raise InputError("-o", "writing to standard output (-) is for --live")
    if args.block < 1:
        raise InputError("--block", "must be at least 1 frame")
    if args.live:
        return _live(args)
    model = SoundModel.from_pretrained(args.model)
    curve, what = _curve(args, model.frame_rate)
    clip = model.play(curve, seed=args.seed)
    out = write_audio(clip, args.output)
    print(f"wrote {out}: {clip.duration_s:.1f} s of {model.cfg.texture} following {what}")
    return 0


def _live(args: argparse.Namespace, clock: Any = time.monotonic) -> int:
    """Control values from stdin lines (one number in [0, 1] each), audio out as it is made, paced by the clock
    so that it runs at most one block ahead of real time (the latency a control change meets: one block plus one
    frame)."""
    import numpy as np

    from cadenza.audio.smf import SoundModel
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    model = SoundModel.from_pretrained(args.model)
    state = {"value": 0.5 if args.value is None else float(args.value), "open": True}
    if not 0.0 <= state["value"] <= 1.0:
        raise InputError("--value", f"{state['value']:g} is outside [0, 1]")

    def read() -> None:
        for line in sys.stdin:
            try:
                v = float(line.strip())
            except ValueError:
                sys.stderr.write(f"ignored {line.strip()!r}: not a number\n")
                continue
            if not 0.0 <= v <= 1.0:  # NaN fails too
                sys.stderr.write(f"ignored {v:g}: outside [0, 1]\n")
                continue
            state["value"] = v
        state["open"] = False

    threading.Thread(target=read, daemon=True).start()
    sr, hop = model.sample_rate, model.rnn.cfg.hop
    block_s = args.block * hop / sr
    sys.stderr.write(f"live: {model.cfg.texture}; type control values in [0, 1], one a line; latency "
                     f"{(args.block + 1) * hop / sr * 1000:.0f} ms\n")  # fmt: skip
    stream, sink = model.stream(seed=args.seed), sys.stdout.buffer if args.output == "-" else None
    parts, made, start = [], 0.0, clock()
    while (state["open"] or args.seconds is not None) and (args.seconds is None or made < args.seconds - 0.5 / sr):
        ahead = made - (clock() - start)
        if ahead > block_s:
            time.sleep(ahead - block_s)
        y = stream.step(float(state["value"]), args.block)
        if args.seconds is not None:
            y = y[: max(0, round((args.seconds - made) * sr))]
        made += len(y) / sr
        if sink is not None:
            sink.write(y.astype(np.float32).tobytes())
            sink.flush()
        else:
            parts.append(y)
    if sink is None:
        out = write_audio(AudioClip(np.concatenate(parts)[None], sr), args.output)
        print(f"wrote {out}: {made:.1f} s", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("smf", help="Sound Model Factory: a texture made playable (GAN, SOM, GAN-made data, GRU)")
    ssub = s.add_subparsers(dest="verb", required=True, metavar="{build,play}")

    b = ssub.add_parser("build", help="make a sound model of a texture: the four stages in one resumable command")
    b.add_argument("--texture", required=True, help="the texture kind (wind, rain, engine, bugs, fm, applause)")
    b.add_argument("--data", help="a texture dataset (`cadenza data textures`; default: 400 clips rendered into "
                                  "OUTPUT/run/textures)")  # fmt: skip
    b.add_argument("--gan-steps", type=int, default=3000, help="GAN training steps (default 3000, ~40 min)")
    b.add_argument("--gan-lr", type=float, default=2e-4, help="GAN learning rate, both sides (default 2e-4)")
    b.add_argument("--rnn-steps", type=int, default=2000, help="recurrent model's steps (default 2000)")
    b.add_argument("--rnn-lr", type=float, default=1e-3, help="recurrent model's learning rate (default 1e-3)")
    b.add_argument("--clips", type=int, default=160, help="8 s GAN-made clips along the path (default 160)")
    b.add_argument("--som-samples", type=int, default=3000, help="GAN inputs the SOM is fitted on (default 3000)")
    b.add_argument("--eval-every", type=int, default=250, help="evaluate and checkpoint every N steps")
    b.add_argument("--seed", type=int, default=0)
    common.add_threads(b, default=0)
    common.add_output(b, "model folder (the stages' runs go in OUTPUT/run)")
    b.set_defaults(func=cmd_build)

    p = ssub.add_parser("play", help="play a sound model along a control curve, or live from stdin")
    common.add_model(p, "smf-wind")
    p.add_argument("--curve", help="a CSV of time_s,value rows (value in [0, 1])")
    p.add_argument("--value", type=float, help="a constant control (default 0.5), or the live start")
    p.add_argument("--seconds", type=float, help="length with --value (default 8; live: until stdin closes)")
    p.add_argument("--live", action="store_true", help="read control values from stdin as it plays")
    p.add_argument("--block", type=int, default=25, help="live: frames per block (default 25 = 100 ms)")
    p.add_argument("--seed", type=int, default=0)
    common.add_threads(p)
    common.add_output(p, "output .wav (with --live, - for raw float32 on stdout)")
    p.set_defaults(func=cmd_play)
