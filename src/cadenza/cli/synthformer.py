"""`cadenza synthformer train | play`: a codec-token Transformer that plays sound textures as their parameters move
(DACSynthformer, over cadenza's codec), from curves given on the command line or live from standard input."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError

# live decoding: 8 frames of look-ahead and 16 of past context put a minute of live rain 0.11 from decoding the whole
# file at once (DAC's mel distance; benchmarks/synthformer.py) at 260 ms latency, where the codec's whole context
# (31 frames, equal to decoding at once) costs 820 ms
LIVE = {"lookahead": 8, "context": 16, "chunk": 5}


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.synthformer import SynthformerConfig
    from cadenza.audio.synthformer_train import CARD, train_synthformer

    try:
        base = SynthformerConfig(codec=args.codec, n_codebooks=args.codebooks, pattern=args.pattern,
                                 n_layer=args.layers, n_head=args.heads, n_embd=args.width, window=args.window,
                                 dropout=args.dropout, token_dropout=args.token_dropout,
                                 param_dropout=args.param_dropout, param_features=args.param_features)  # fmt: skip
    except ValueError as e:
        raise InputError("synthformer config", str(e)) from None
    tc = common.train_config(args, warmup_steps=min(200, args.steps // 10), betas=(0.9, 0.95))
    model, figures = train_synthformer(args.data, Path(args.output) / "run", base, tc, window_frames=args.window_frames,
                                       batch_size=args.batch_size, init_from=args.init_from,
                                       new_segment=args.new_segment)  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith(("valid_", "uniform"))))
    cfg = model.cfg
    common.save_trained(
        model, args, figures, CARD, name=Path(args.output).name, codec=cfg.codec, n_codebooks=cfg.n_codebooks,
        pattern=cfg.pattern, frame_rate=cfg.frame_rate, n_classes=len(cfg.classes), classes=", ".join(cfg.classes),
        params=", ".join(f"{k}: {cfg.class_params[i].replace(',', ', ')}" for i, k in enumerate(cfg.classes)),
        n_layer=cfg.n_layer, n_embd=cfg.n_embd, n_head=cfg.n_head, window=cfg.window,
        n_params=sum(p.numel() for p in model.parameters()), data=" + ".join(f"`{d}`" for d in args.data),
        minutes_audio=figures["train_minutes_of_audio"], config=json.dumps(asdict(cfg)),
        window_frames=args.window_frames, batch_size=args.batch_size, dropout=cfg.dropout,
        token_dropout=cfg.token_dropout, param_dropout=cfg.param_dropout,
        init=f"; fine-tuned from `{args.init_from}` (its card lists its own training)" if args.init_from else "",
    )  # fmt: skip
    return 0


class LiveControl:
    """Parameter values read from standard input as lines `name=value` while the model plays (a reader thread)."""

    def __init__(self, model: Any, kind: str, start: dict[str, float], stream: Any = None) -> None:
        self.model, self.kind, self.values = model, kind, dict(start)
        self.error: str | None = None
        self.stream = stream if stream is not None else sys.stdin
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.stream:
            line = line.strip()
            if not line:
                continue
            try:
                name, value = line.split("=", 1)
                self.model.check_params(self.kind, {name.strip(): float(value)})
                self.values[name.strip()] = float(value)
            except (ValueError, InputError) as e:
                print(f"stdin: ignored {line!r} ({e})", file=sys.stderr)

    def __call__(self, frame: int) -> dict[str, float]:
        return dict(self.values)


def cmd_play(args: argparse.Namespace) -> int:
    import numpy as np

    from cadenza.audio.synthformer import FrameDecoder, Synthformer, curves_from_specs
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    common.set_threads(args)
    if args.seconds is not None and args.seconds <= 0:
        raise InputError("--seconds", f"must be > 0, got {args.seconds:g}")
    if args.seconds is None and not args.live:
        args.seconds = 8.0
    if args.output == "-" and not args.live:
        raise InputError("-o", "writing to standard output (-) is for --live")
    model = Synthformer.from_pretrained(args.model)
    kind = args.kind
    model.class_index(kind)
    rate = model.cfg.frame_rate
    n_frames = round(args.seconds * rate) if args.seconds is not None else None
    curves = curves_from_specs(model, kind, args.param or [], n_frames or 1)
    lo, hi = model.cfg.param_range
    codec = model.codec
    if args.guidance is None:
        args.guidance = Synthformer.GUIDANCE
    if args.guidance <= 0:
        raise InputError("--guidance", f"must be > 0, got {args.guidance:g}")
    sampling = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "seed": args.seed,
                "guidance": args.guidance}  # fmt: skip
    if not args.live:
        assert n_frames is not None
        codes = model.generate(kind, curves, n_frames, **sampling)
        y = codec.decode_chunked(codes)[0, 0].numpy()
        out = write_audio(AudioClip(y.astype(np.float32), codec.sample_rate), args.output)
        given = ", ".join(args.param or []) or "parameters at the middle of their range"
        print(f"wrote {out} ({args.seconds:g} s of {kind}: {given}; guidance {args.guidance:g})")
        return 0
    # live: parameters from stdin lines "name=value", audio out as it is made (raw float32 to stdout with -o -)
    start = {p: float(curves[p][0]) if p in curves else (lo + hi) / 2 for p in model.cfg.params_of(kind)}
    control = LiveControl(model, kind, start)
    decoder = FrameDecoder(codec, lookahead=args.lookahead, context=args.context, chunk=args.chunk)
    print(f"live: {kind} from {start}; type name=value lines to move a parameter; latency "
          f"{decoder.latency_s * 1000:.0f} ms", file=sys.stderr)  # fmt: skip
    sink = sys.stdout.buffer if args.output == "-" else None
    parts = []
    for frame in model.frames(kind, control, n_frames=n_frames, **sampling):
        y = decoder.push(frame)
        if sink is not None and len(y):
            sink.write(y.tobytes())
            sink.flush()
        parts.append(y)
    y = decoder.flush()
    if sink is not None:
        sink.write(y.tobytes())
        sink.flush()
        return 0
    out = write_audio(AudioClip(np.concatenate([*parts, y]), codec.sample_rate), args.output)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("synthformer", help="Synthformer: play sound textures from codec tokens as parameters move")
    ssub = s.add_subparsers(dest="verb", required=True, metavar="{train,play}")

    t = ssub.add_parser("train", help="train on texture datasets (`cadenza data textures`)")
    t.add_argument("--data", required=True, nargs="+", help="texture dataset folders (with parameter curves)")
    t.add_argument("--codec", default="codec-vocos", help="the codec whose codes it plays (default codec-vocos)")
    t.add_argument("--codebooks", type=int, default=4, help="codebooks modelled (default 4: 2 kbps)")
    t.add_argument(
        "--pattern",
        default="delay",
        choices=["delay", "parallel"],
        help="codebooks per step: delay (MusicGen, default) or parallel (stacked, as the reference)",
    )
    t.add_argument("--layers", type=int, default=6)
    t.add_argument("--heads", type=int, default=6)
    t.add_argument("--width", type=int, default=192)
    t.add_argument("--window", type=int, default=128, help="attention band in frames (default 128)")
    t.add_argument("--window-frames", type=int, default=192, help="training window in frames (default 192)")
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--token-dropout", type=float, default=0.0,
                   help="share of input tokens replaced by random ones in training, so that the model reads its "
                        "parameters rather than copying its history (default 0)")  # fmt: skip
    t.add_argument(
        "--param-dropout",
        type=float,
        default=0.0,
        help="share of training windows without their parameters: for --guidance (default 0)",
    )
    t.add_argument(
        "--param-features",
        type=int,
        default=0,
        help="each parameter also as sin/cos of 2^k pi v for k below this (default 0: the value alone)",
    )
    t.add_argument("--init-from", help="fine-tune: start from this model's weights and config (same classes, codec)")
    t.add_argument("--batch-size", type=int, default=16)
    common.add_training(t, steps=6000, lr=6e-4, eval_every=500)
    t.set_defaults(func=cmd_train)

    p = ssub.add_parser("play", help="play a texture: parameter curves, or live from stdin")
    common.add_model(p, "synthformer-textures")
    p.add_argument("--class", dest="kind", required=True, help="the sound class (e.g. rain)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=T:V,T:V",
        help='a parameter curve: breakpoints "density=0:0.1,8:0.9" (seconds:value) or "density=0.7"',
    )
    p.add_argument("--seconds", type=float, help="length (default 8; with --live: until stdin closes or Ctrl-C)")
    p.add_argument(
        "--live",
        action="store_true",
        help="read 'name=value' lines from stdin as it plays; with -o - write raw float32 to stdout",
    )
    p.add_argument("--lookahead", type=int, default=LIVE["lookahead"],
                   help="live: codec frames decoded ahead of the output (default 8; the codec's whole context, 31 "
                        "frames for codec-vocos, makes it equal to decoding the file at once)")  # fmt: skip
    p.add_argument(
        "--context", type=int, default=LIVE["context"], help="live: past frames decoded with each chunk (default 16)"
    )
    p.add_argument("--chunk", type=int, default=LIVE["chunk"], help="live: frames decoded at a time (default 5)")
    p.add_argument("--guidance", type=float,
                   help="classifier-free guidance on the parameters: u + g (c - u), u the model without them; "
                        "higher follows the curve more closely and sounds less real (default 1.5; 1: the model "
                        "alone)")  # fmt: skip
    common.add_sampling(p)
    common.add_output(p, "output .wav (with --live, - for raw float32 on stdout)")
    p.set_defaults(func=cmd_play)
