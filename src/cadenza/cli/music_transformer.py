"""`cadenza music-transformer train | generate | eval`: the Music Transformer on the JSB Chorales benchmark."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError

ANCHORS = {"music_transformer": 0.335, "vanilla_transformer": 0.417, "coconet": 0.436}


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.symbolic.transformer import CARD, JSBTrainConfig, train_jsb

    if args.position not in ("relative", "absolute"):
        raise InputError("--position", f"must be relative or absolute, not {args.position!r}")
    cfg = JSBTrainConfig(block_size=args.context, n_layer=args.layers, n_head=args.heads, n_embd=args.width,
                         dropout=args.dropout, position=args.position, batch_size=args.batch_size,
                         max_shift=args.max_shift)  # fmt: skip
    model, figures = train_jsb(cfg, common.train_config(args), args.output, new_segment=args.new_segment)
    print(f"valid NLL {figures['valid_nll']:.4f}, test NLL {figures['test_nll']:.4f} nats per token")
    common.save_trained(model, args, figures, CARD, position=cfg.position, max_shift=cfg.max_shift,
                        config=json.dumps(asdict(cfg)), context=cfg.block_size, stride=cfg.block_size // 2)  # fmt: skip
    return 0


def read_primer_grid(path: str, max_tokens: int) -> list[list[int]]:
    """A four-part score file as the model's 16th-note SATB grid, checked against its context."""
    from cadenza import io
    from cadenza.encodings.base import EncodingError
    from cadenza.encodings.satb_grid import SATBGrid

    score = io.read(path)[0]
    try:
        grid = SATBGrid().grid(score)
    except EncodingError as e:
        raise InputError(path, f"cannot be a chorale primer: {e}") from None
    if 1 + 4 * len(grid) > max_tokens:
        raise InputError(path, f"primer of {len(grid)} steps ({1 + 4 * len(grid)} tokens) exceeds the context of "
                         f"{max_tokens} tokens; shorten it")  # fmt: skip
    if any(p > 127 for step in grid for p in step):
        raise InputError(path, "has pitches above MIDI 127")
    return grid


def cmd_generate(args: argparse.Namespace) -> int:
    from cadenza.symbolic.transformer import MusicTransformer

    common.set_threads(args)
    model = MusicTransformer.from_pretrained(args.model)
    primer = read_primer_grid(args.primer, model.cfg.block_size) if args.primer else None
    score = model.generate(args.steps, primer=primer, temperature=args.temperature, top_k=args.top_k,
                           top_p=args.top_p, seed=args.seed)  # fmt: skip
    paths = common.write_outputs(score, args.output)
    print(f"{score.n_notes} notes in 4 voices, {args.steps} 16th-note steps" + (" after the primer" if primer else ""))
    common.print_written(paths)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from cadenza.symbolic.transformer import MusicTransformer

    common.set_threads(args)
    model = MusicTransformer.from_pretrained(args.model)
    t0 = time.perf_counter()
    valid, test = model.evaluate("valid"), model.evaluate("test")
    W = model.cfg.block_size
    result = {
        "model": str(args.model or MusicTransformer.shipped),
        "position": model.cfg.position,
        "valid_nll": round(valid["nll"], 4),
        "test_nll": round(test["nll"], 4),
        "valid_tokens": int(valid["tokens"]),
        "test_tokens": int(test["tokens"]),
        "context_tokens": W,
        "stride_tokens": W // 2,
        "seconds": round(time.perf_counter() - t0, 1),
        "anchor": ANCHORS,
    }
    if common.print_json(args, result):
        return 0
    print(f"JSB Chorales, note-wise NLL in nats per token ({model.cfg.position} attention, context {W} tokens, "
          f"sliding windows of stride {W // 2} over whole pieces):")  # fmt: skip
    print(f"  valid_nll {result['valid_nll']:.4f}  ({result['valid_tokens']} tokens)")
    print(f"  test_nll  {result['test_nll']:.4f}  ({result['test_tokens']} tokens)")
    print("  anchors: Music Transformer 0.335, vanilla Transformer 0.417 (Huang et al. 2019, whole pieces in context)")
    return 0


def register(sub: Any) -> None:
    mt = sub.add_parser("music-transformer", help="the Music Transformer (relative attention), JSB Chorales")
    msub = mt.add_subparsers(dest="mt_command", required=True, metavar="ACTION")
    t = msub.add_parser("train", help="train on the JSB Chorales train split")
    t.add_argument("--position", default="relative", help="relative (Music Transformer, default) or absolute")
    t.add_argument("--context", type=int, default=256, help="context in tokens (4 per 16th-note step)")
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--width", type=int, default=128)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--max-shift", type=int, default=5, help="transposition augmentation, +- semitones")
    common.add_training(t, steps=3000, lr=1e-3)
    t.set_defaults(func=cmd_train)
    g = msub.add_parser("generate", help="a four-voice chorale (writes OUT.mid, OUT.xml, OUT.wav)")
    common.add_model(g, "music-transformer-jsb")
    g.add_argument("--primer", help="a four-part score (MIDI / MusicXML) to continue")
    g.add_argument("--steps", type=int, default=128, help="16th-note steps to generate (default 128 = 8 bars)")
    common.add_sampling(g)
    common.add_output(g)
    g.set_defaults(func=cmd_generate)
    e = msub.add_parser("eval", help="note-wise NLL on the JSB validation and test splits")
    e.add_argument("benchmark", nargs="?", default="jsb", choices=["jsb"], help="the benchmark (jsb)")
    common.add_eval(e, "music-transformer-jsb")
    e.set_defaults(func=cmd_eval)
