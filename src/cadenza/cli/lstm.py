"""`cadenza lstm train | generate | eval`: LSTM folk melodies on the 16th-note grid (the course's model beside)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def _melodies(corpus_name: str, split: str) -> tuple[list[list[int]], int]:
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.lstm import melody_ids

    return melody_ids(load_corpus(corpus_name).split(split))


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.symbolic.lstm import CARD, PRESETS, train_melody_lstm

    if args.preset not in PRESETS:
        raise InputError("--preset", f"unknown preset {args.preset!r} (known: {', '.join(PRESETS)})")
    preset = PRESETS[args.preset]
    train_songs, skipped = _melodies(args.corpus, "train")
    valid_songs, _ = _melodies(args.corpus, "valid")
    if not train_songs or not valid_songs:
        raise InputError(args.corpus, "has no melodies on the 16th-note grid in its train or valid split")
    print(f"{len(train_songs)} train / {len(valid_songs)} valid melodies of {args.corpus} "
          f"({skipped} train melodies off the 16th-note grid skipped)")  # fmt: skip
    tc = common.train_config(args, lr=args.lr or preset.lr, betas=(0.9, 0.999))
    model, figures = train_melody_lstm(preset, tc, train_songs, valid_songs, args.output, new_segment=args.new_segment)
    model.extra["corpus"] = args.corpus
    print(f"valid NLL {figures['valid_nll']:.4f} nats per symbol, accuracy {figures['valid_accuracy']:.3f}")
    common.save_trained(model, args, figures, CARD, preset=preset.name, corpus=args.corpus, n_train=len(train_songs),
                        n_valid=len(valid_songs), config=json.dumps(asdict(preset)))  # fmt: skip
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cadenza.symbolic.lstm import MelodyLSTM

    common.set_threads(args)
    model = MelodyLSTM.from_pretrained(args.model)
    primer = None
    if args.primer:
        from cadenza import io

        primer = io.read(args.primer)[0]
    score = model.generate(primer=primer, max_steps=args.max_steps, temperature=args.temperature, top_k=args.top_k,
                           top_p=args.top_p, seed=args.seed, tempo_bpm=args.tempo)  # fmt: skip
    paths = common.write_outputs(score, args.output)
    key = score.key.name if score.key else "?"
    print(f"{score.n_notes} notes, {score.end / 4:.1f} bars of 4 quarters, key {key}")
    common.print_written(paths)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from cadenza.symbolic.lstm import MelodyLSTM, evaluate_melodies

    common.set_threads(args)
    model = MelodyLSTM.from_pretrained(args.model)
    songs, skipped = _melodies(args.corpus, "valid")
    if not songs:
        raise InputError(args.corpus, "has no melodies on the 16th-note grid in its valid split")
    r = evaluate_melodies(model, songs, model.preset.song_delimiters)
    result = {"corpus": args.corpus, "melodies": len(songs), "skipped": skipped}
    result |= {k: round(v, 4) for k, v in r.items()}
    if common.print_json(args, result):
        return 0
    print(f"{len(songs)} valid melodies of {args.corpus}: NLL {r['nll']:.4f} nats per grid symbol "
          f"({r['bits']:.3f} bits), next-symbol accuracy {r['accuracy']:.3f}")  # fmt: skip
    return 0


def register(sub: Any) -> None:
    ls = sub.add_parser("lstm", help="LSTM folk melodies (16th-note grid): train, generate, eval")
    lsub = ls.add_subparsers(dest="lstm_command", required=True, metavar="ACTION")
    t = lsub.add_parser("train", help="train on a corpus's melodies")
    t.add_argument("--corpus", default="essen/erk", help="essen/erk (default), essen, oneills, a folder, ...")
    t.add_argument("--preset", default="default", help="default (improved) or course (the course's model)")
    common.add_training(t, steps=2000, lr=None, lr_help="peak learning rate (default: the preset's)")
    t.set_defaults(func=cmd_train)
    g = lsub.add_parser("generate", help="a melody (writes OUT.mid, OUT.xml, OUT.wav)")
    common.add_model(g, "lstm-essen")
    g.add_argument("--primer", help="a melody file to continue (MIDI / MusicXML / ABC; first tune, first part)")
    g.add_argument("--max-steps", type=int, default=256, help="most 16th-note steps to generate (default 256)")
    g.add_argument("--tempo", type=float, default=100.0)
    common.add_sampling(g)
    common.add_output(g)
    g.set_defaults(func=cmd_generate)
    e = lsub.add_parser("eval", help="valid NLL and accuracy per grid symbol on a corpus's valid split")
    common.add_eval(e, "lstm-essen")
    e.add_argument("--corpus", default="essen/erk")
    e.set_defaults(func=cmd_eval)
