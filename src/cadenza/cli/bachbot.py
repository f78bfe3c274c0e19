"""`cadenza bachbot train | generate | eval`: the BachBot-style chorale LSTM. It also harmonizes a soprano:
`cadenza harmonize MELODY --method chorale-lstm`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError

BACHBOT_REPORTS = 0.477  # Liang 2016, validation cross-entropy per token


def _chorales(corpus_name: str, split: str) -> tuple[list[list[int]], int]:
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.bachbot import chorale_sequences

    return chorale_sequences(load_corpus(corpus_name).split(split))


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.symbolic.bachbot import CARD, BachBotConfig, train_bachbot

    train_seqs, skipped = _chorales(args.corpus, "train")
    valid_seqs, _ = _chorales(args.corpus, "valid")
    if not train_seqs or not valid_seqs:
        raise InputError(args.corpus, "has no four-part chorales on the 16th-note grid in its train or valid split")
    print(f"{len(train_seqs)} train / {len(valid_seqs)} valid chorales ({skipped} train pieces skipped: not four "
          "parts or off the 16th-note grid)")  # fmt: skip
    cfg = BachBotConfig()
    tc = common.train_config(args, lr=args.lr or cfg.lr, betas=(0.9, 0.999))
    model, figures = train_bachbot(cfg, tc, train_seqs, valid_seqs, args.output, new_segment=args.new_segment)
    model.extra["corpus"] = args.corpus
    print(f"valid cross-entropy {figures['valid_nll']:.4f} nats per token (BachBot reports {BACHBOT_REPORTS})")
    common.save_trained(model, args, figures, CARD, corpus=args.corpus, n_train=len(train_seqs),
                        n_valid=len(valid_seqs), config=json.dumps(asdict(cfg)))  # fmt: skip
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cadenza.symbolic.bachbot import BachBot

    common.set_threads(args)
    score = BachBot.from_pretrained(args.model).generate(frames=args.frames, temperature=args.temperature,
                                                          top_p=args.top_p, seed=args.seed)  # fmt: skip
    paths = common.write_outputs(score, args.output)
    print(f"{score.n_notes} notes in 4 voices, {score.end:.1f} quarter notes (C major / A minor)")
    common.print_written(paths)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from cadenza.symbolic.bachbot import BachBot, evaluate_chorales

    common.set_threads(args)
    model = BachBot.from_pretrained(args.model)
    seqs, skipped = _chorales(args.corpus, "valid")
    r = evaluate_chorales(model, seqs)
    result = {"corpus": args.corpus, "chorales": len(seqs), "skipped": skipped, "valid_nll": round(r["nll"], 4),
              "tokens": int(r["tokens"]), "bachbot_reports": BACHBOT_REPORTS}  # fmt: skip
    if common.print_json(args, result):
        return 0
    print(f"{len(seqs)} valid chorales of {args.corpus}: cross-entropy {r['nll']:.4f} nats per token over whole "
          f"chorales read from START (BachBot reports {BACHBOT_REPORTS} on its own split)")  # fmt: skip
    return 0


def register(sub: Any) -> None:
    bb = sub.add_parser("bachbot", help="BachBot-style chorale LSTM: train, generate, eval (harmonize: see harmonize)")
    bsub = bb.add_subparsers(dest="bachbot_command", required=True, metavar="ACTION")
    t = bsub.add_parser("train", help="train on four-part chorales (stateful truncated BPTT)")
    t.add_argument("--corpus", default="bach")
    common.add_training(t, steps=3000, lr=None, lr_help="peak learning rate (default 3e-3)")
    t.set_defaults(func=cmd_train)
    g = bsub.add_parser("generate", help="a free four-part chorale (writes OUT.mid, OUT.xml, OUT.wav)")
    common.add_model(g, "bachbot")
    g.add_argument("--frames", type=int, default=256, help="most 16th-note frames (default 256 = 16 bars)")
    common.add_sampling(g, top_k=False)
    common.add_output(g)
    g.set_defaults(func=cmd_generate)
    e = bsub.add_parser("eval", help="validation cross-entropy per token (BachBot's measure)")
    common.add_eval(e, "bachbot")
    e.add_argument("--corpus", default="bach")
    e.set_defaults(func=cmd_eval)
