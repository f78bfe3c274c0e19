"""`cadenza markov train | generate | eval`: variable-order multiple-viewpoint Markov melodies."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def parse_range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in text.split(".."))
    except ValueError:
        raise InputError("--range", f"expected LOW..HIGH in MIDI numbers, got {text!r}") from None
    if not 0 <= lo < hi <= 127:
        raise InputError("--range", f"{text} is not inside 0..127")
    return lo, hi


def cmd_train(args: argparse.Namespace) -> int:
    import time
    from dataclasses import asdict

    from cadenza.corpus import load_corpus
    from cadenza.symbolic.markov import CARD, MarkovConfig, MarkovMelody

    corpus = load_corpus(args.corpus)
    t0 = time.perf_counter()
    cfg = MarkovConfig(order=args.order)
    model = MarkovMelody(cfg).fit(corpus.split("train"))
    seconds = time.perf_counter() - t0
    counts = ", ".join(f"{k} {v}" for k, v in model.n_pieces.items())
    card = CARD.format(corpus=args.corpus, order=cfg.order, viewpoints=" + ".join(cfg.pitch_viewpoints),
                       counts=counts, seconds=seconds, config=json.dumps(asdict(cfg)),
                       command=common.card_command("cadenza markov train ..."))  # fmt: skip
    model.save_pretrained(args.output, card=card)
    print(f"trained order-{args.order} model on {counts} melodies of {args.corpus} (train split) in {seconds:.1f} s")
    print(f"wrote {args.output}/model.json.gz, card.md")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import numpy as np

    from cadenza.core.score import Key, TimeSignature
    from cadenza.symbolic.markov import MarkovMelody

    model = MarkovMelody.from_pretrained(args.model)
    score = model.generate(
        bars=args.bars, key=Key.parse(args.key), time_signature=TimeSignature.parse(args.meter),
        pitch_range=parse_range(args.range), end_on_tonic=not args.free_ending, temperature=args.temperature,
        rng=np.random.default_rng(args.seed), tempo_bpm=args.tempo,
    )  # fmt: skip
    paths = common.write_outputs(score, args.output)
    print(f"{score.n_notes} notes, {args.bars} bars of {args.meter} in {score.key.name if score.key else '?'}")
    common.print_written(paths)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.markov import MarkovConfig
    from cadenza.symbolic.markov_eval import cross_validate

    corpus = load_corpus(args.corpus, limit=args.limit, progress=not args.json)
    result = cross_validate(corpus.scores, MarkovConfig(order=args.order), folds=args.folds, progress=not args.json)
    result["corpus"] = args.corpus
    if common.print_json(args, result):
        return 0
    c, m = result["course"], result["model"]
    course_bits = "inf" if c["bits_per_note"] is None else f"{c['bits_per_note']:.3f}"
    print(f"{result['folds']}-fold cross-validation on {result['pieces']} melodies ({result['notes']} notes) of "
          f"{args.corpus}, bits per note (lower is better):")  # fmt: skip
    print(f"  model, viewpoints {'+'.join(m['viewpoints'])}, order {args.order}: pitch {m['bits_per_note']:.3f}, "
          f"pitch+duration {m['joint_bits_per_note']:.3f}")  # fmt: skip
    print(f"  model, pitch viewpoint alone: {result['pitch_viewpoint_only']['bits_per_note']:.3f}")
    print(f"  course chain: pitch {course_bits} ({100 * c['zero_probability_share']:.2f}% of notes have "
          f"probability 0; {c['bits_per_note_on_nonzero']:.3f} on the others)")  # fmt: skip
    print(f"  anchor: IDyOM (Pearce & Wiggins 2004) about {result['anchor']['idyom_pitch_bits_per_note']} for pitch")
    return 0


def register(sub: Any) -> None:
    mk = sub.add_parser("markov", help="variable-order Markov melodies: train, generate, eval")
    msub = mk.add_subparsers(dest="markov_command", required=True, metavar="ACTION")
    mt = msub.add_parser("train", help="train on the train split of a corpus")
    mt.add_argument("--corpus", required=True, help="essen, essen/erk, bach (sopranos), oneills, a folder, ...")
    mt.add_argument("--order", type=int, default=4, help="longest context in notes (default 4)")
    common.add_output(mt, "model folder (model.json.gz + card.md)")
    mt.set_defaults(func=cmd_train)
    mg = msub.add_parser("generate", help="sample a melody; writes OUT.mid, OUT.xml and OUT.wav")
    common.add_model(mg, "markov-essen")
    common.add_output(mg)
    mg.add_argument("--bars", type=int, default=8)
    mg.add_argument("--key", default="C major", help='e.g. "D minor", "Bb", "f#" (default C major)')
    mg.add_argument("--meter", default="4/4")
    mg.add_argument("--range", default="55..84", help="lowest..highest MIDI pitch (default 55..84)")
    mg.add_argument("--free-ending", action="store_true", help="do not force the last note onto the tonic")
    mg.add_argument("--temperature", type=float, default=1.0)
    mg.add_argument("--tempo", type=float, default=100.0, help="quarter notes per minute")
    mg.add_argument("--seed", type=int, default=0)
    mg.set_defaults(func=cmd_generate)
    me = msub.add_parser("eval", help="k-fold held-out bits per note: our model vs the course chain")
    me.add_argument("--corpus", required=True)
    me.add_argument("--order", type=int, default=4)
    me.add_argument("--folds", type=int, default=10)
    me.add_argument("--limit", type=int, help="only the first N source files of the corpus")
    common.add_json(me)
    me.set_defaults(func=cmd_eval)
