"""`cadenza compose` (GEDMAS-style pieces, top down with Markov chains) and `cadenza improvise` (GenJam)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_compose(args: argparse.Namespace) -> int:
    import numpy as np

    from cadenza.core.score import Key
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.compose import Style, compose
    from cadenza.symbolic.markov import MarkovMelody

    if args.bars_per_section < 1:
        raise InputError("--bars-per-section", "must be at least 1")
    style = Style.learn(load_corpus(args.corpus).split("train"))
    melody_model = MarkovMelody.from_pretrained(args.melody_model)
    piece = compose(style, melody_model, key=Key.parse(args.key), bars_per_section=args.bars_per_section,
                    tempo_bpm=args.tempo, rng=np.random.default_rng(args.seed))  # fmt: skip
    paths = common.write_outputs(piece.score, args.output)
    bars = len(piece.form) * args.bars_per_section
    print(f"form {' '.join(piece.form)} ({bars} bars, {piece.score.duration_s:.0f} s)")
    for label, chords in piece.progressions.items():
        print(f"  {label}: {' '.join(chords)}")
    common.print_written(paths)
    return 0


def cmd_improvise(args: argparse.Namespace) -> int:
    from cadenza.symbolic.genjam import Critic, GenJam, GenJamConfig, markov_critic, parse_chords, rule_critic

    chords = parse_chords(args.chords)
    if args.bars < 1:
        raise InputError("--bars", "must be at least 1")
    if args.critic not in ("markov", "rules"):
        raise InputError("--critic", f"unknown critic {args.critic!r} (known: markov, rules)")
    critic: Critic = rule_critic
    if args.critic == "markov":
        from cadenza.symbolic.markov import MarkovMelody

        critic = markov_critic(MarkovMelody.from_pretrained())
    jam = GenJam(chords, critic, GenJamConfig(generations=args.generations, seed=args.seed))
    if args.interactive:
        _rate_interactively(jam, args)
    else:
        jam.evolve()
        print(f"{args.generations} tournaments: best phrase fitness {jam.log[0]['best']:.2f} -> "
              f"{jam.log[-1]['best']:.2f}")  # fmt: skip
    solo = jam.solo(args.bars, tempo_bpm=args.tempo)
    paths = common.write_outputs(solo, args.output)
    print(f"{len(solo.parts[0].notes)} solo notes over {args.bars} bars of {' '.join(c.symbol for c in chords)}")
    common.print_written(paths)
    return 0


def _rate_interactively(jam: Any, args: argparse.Namespace) -> None:
    """GenJam's interactive fitness: the listener rates phrases good (g) or bad (b) while they play."""
    import numpy as np

    from cadenza.core.score import Part, Score, TimeSignature
    from cadenza.render import render_score

    if not sys.stdin or not sys.stdin.isatty() and not args.allow_piped_ratings:
        raise InputError(
            "--interactive", "needs a terminal to read your ratings (g = good, b = bad, enter = no opinion)"
        )
    ratings: dict[int, float] = {}
    folder = Path(args.output).with_suffix("").parent / "genjam_phrases"
    rng = np.random.default_rng(args.seed)
    for round_ in range(args.rounds):
        for i in rng.choice(len(jam.phrases), 4, replace=False):
            notes = jam.phrase_notes(jam.phrases[i], 0)
            path = folder / f"round{round_ + 1}_phrase{i}.wav"
            if notes:
                phrase = Score((Part(tuple(notes), program=65),), time_signature=TimeSignature(4, 4),
                               tempo_bpm=args.tempo)  # fmt: skip
                render_score(phrase, path)
            answer = input(f"round {round_ + 1}: phrase {i} ({path if notes else 'silence'}) good/bad? [g/b/enter] ")
            ratings[int(i)] = ratings.get(int(i), 0.0) + {"g": 1.0, "b": -1.0}.get(answer.strip().lower()[:1], 0.0)
        jam.evolve(generations=8, rate=lambda k: ratings.get(k, 0.0))
    print(f"rated {len(ratings)} phrases in {args.rounds} rounds")


def register(sub: Any) -> None:
    co = sub.add_parser("compose", help="a multi-track piece, top-down with Markov chains (GEDMAS-style)")
    co.add_argument("--corpus", default="bach", help="where form, chords and rhythms are learned (default bach)")
    common.add_output(co)
    co.add_argument("--key", default="C major")
    co.add_argument("--bars-per-section", type=int, default=4)
    co.add_argument("--tempo", type=float, default=100.0)
    co.add_argument("--melody-model", help="a Markov melody model folder or name (default: markov-essen)")
    co.add_argument("--seed", type=int, default=0)
    co.set_defaults(func=cmd_compose)

    im = sub.add_parser("improvise", help="a GenJam-style jazz solo over a chord progression (a GA)")
    im.add_argument("--chords", required=True, help='one chord per bar, e.g. "Dm7 G7 Cmaj7 Cmaj7"')
    im.add_argument("--bars", type=int, default=16)
    common.add_output(im)
    im.add_argument("--critic", default="markov", help="markov (Essen Markov log-likelihood + rules) or rules")
    im.add_argument("--generations", type=int, default=300, help="tournaments per population")
    im.add_argument("--interactive", action="store_true", help="you rate phrases good/bad: that is the fitness")
    im.add_argument("--rounds", type=int, default=4, help="interactive: rating rounds of 4 phrases")
    im.add_argument("--allow-piped-ratings", action="store_true", help=argparse.SUPPRESS)
    im.add_argument("--tempo", type=float, default=140.0)
    im.add_argument("--seed", type=int, default=0)
    im.set_defaults(func=cmd_improvise)
