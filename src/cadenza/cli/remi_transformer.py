"""`cadenza remi-transformer train | generate | eval`: the Music Transformer on REMI events (Bach + Essen)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.symbolic.remi_lm import CARD, RemiTrainConfig, train_remi

    cfg = RemiTrainConfig(block_size=args.context, n_layer=args.layers, n_head=args.heads, n_embd=args.width,
                          dropout=args.dropout, batch_size=args.batch_size)  # fmt: skip
    tc = common.train_config(args)
    model, figures = train_remi(cfg, tc, args.output, limit=args.limit, new_segment=args.new_segment)
    print(f"valid NLL {figures['valid_nll']:.4f} nats per token (bach {figures['valid_nll_bach']:.4f}, "
          f"essen {figures['valid_nll_essen']:.4f})")  # fmt: skip
    common.save_trained(model, args, figures, CARD, max_shift=cfg.max_shift, config=json.dumps(asdict(cfg)),
                        context=cfg.block_size)  # fmt: skip
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.symbolic.remi_lm import STYLES, RemiTransformer, guess_style, head_bars

    common.set_threads(args)
    model = RemiTransformer.from_pretrained(args.model)
    primer = head_bars(io.read(args.primer)[0], args.primer_bars) if args.primer else None
    style = args.style or (guess_style(primer) if primer is not None else "essen")
    if style not in STYLES:
        raise InputError("--style", f"must be one of {', '.join(STYLES)}, not {style!r}")
    score = model.generate(style=style, primer=primer, bars=args.bars, temperature=args.temperature,
                           top_k=args.top_k, top_p=args.top_p, seed=args.seed)  # fmt: skip
    if score.n_notes == 0:
        raise InputError("remi-transformer", "the sample has no notes; try another --seed")
    paths = common.write_outputs(score, args.output)
    bars = sum(1 for _ in score.bars())
    primed = f" (the first {args.primer_bars} from the primer)" if primer is not None else ""
    print(f"{style}: {score.n_notes} notes in {len(score.parts)} part(s), {bars} bars{primed}")
    common.print_written(paths)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from cadenza.symbolic.remi_lm import STYLES, RemiTransformer, corpus_pieces, evaluate_remi

    common.set_threads(args)
    model = RemiTransformer.from_pretrained(args.model)
    result: dict[str, Any] = {"context_tokens": model.cfg.block_size, "stride_tokens": model.cfg.block_size // 2}
    total = tokens = 0.0
    for style in STYLES:
        pieces, skipped = corpus_pieces(style, "valid", limit=args.limit)
        r = evaluate_remi(model, pieces)
        result[style] = {"nll": round(r["nll"], 4), "tokens": int(r["tokens"]), "pieces": len(pieces),
                         "skipped": skipped}  # fmt: skip
        total, tokens = total + r["nats"], tokens + r["tokens"]
    result["valid_nll"] = round(total / max(tokens, 1), 4)
    if common.print_json(args, result):
        return 0
    print(f"REMI Transformer, valid NLL in nats per REMI token over whole pieces: {result['valid_nll']:.4f}")
    for style in STYLES:
        r = result[style]
        print(f"  {style:6s} {r['nll']:.4f}  ({r['pieces']} pieces, {r['tokens']} tokens)")
    return 0


def register(sub: Any) -> None:
    rt = sub.add_parser("remi-transformer", help="the Music Transformer on REMI events (Bach chorales + Essen tunes)")
    rsub = rt.add_subparsers(dest="remi_command", required=True, metavar="ACTION")
    t = rsub.add_parser("train", help="train on the train splits of bach and essen/erk")
    t.add_argument("--context", type=int, default=512)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--width", type=int, default=128)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--limit", type=int, help="use only the first N pieces of each corpus (a quick trial)")
    common.add_training(t, steps=850, lr=1e-3, eval_every=200)
    t.set_defaults(func=cmd_train)
    g = rsub.add_parser("generate", help="a chorale or folk tune (writes OUT.mid, OUT.xml, OUT.wav)")
    common.add_model(g, "remi-transformer")
    g.add_argument("--style", help="bach or essen (default: from the primer's parts, else essen)")
    g.add_argument("--primer", help="a score to continue (MIDI / MusicXML / ABC; first tune)")
    g.add_argument("--primer-bars", type=int, default=4, help="bars of the primer to keep (default 4)")
    g.add_argument("--bars", type=int, default=16, help="length in bars, primer included (default 16)")
    common.add_sampling(g)
    common.add_output(g)
    g.set_defaults(func=cmd_generate)
    e = rsub.add_parser("eval", help="valid NLL per REMI token, per style")
    common.add_eval(e, "remi-transformer")
    e.add_argument("--limit", type=int, help="only the first N source files of each corpus")
    e.set_defaults(func=cmd_eval)
