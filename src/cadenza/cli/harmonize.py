"""`cadenza harmonize`: a melody in four parts, by the chord HMM (Viterbi, GA), the course's GA or BachBot."""

from __future__ import annotations

import argparse
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError

METHODS = ("ga", "viterbi", "course", "chorale-lstm")


def cmd_harmonize(args: argparse.Namespace) -> int:
    if args.method not in METHODS:
        raise InputError("--method", f"unknown method {args.method!r} (known: {', '.join(METHODS)})")
    if args.evaluate:
        return _evaluate(args)
    if not args.melody or not args.output:
        raise InputError("harmonize", "give a MELODY file and -o OUT (or --evaluate --corpus NAME)")
    if args.chords_per_bar is not None and args.chords_per_bar < 1:
        raise InputError("--chords-per-bar", "must be at least 1")
    from cadenza import io

    melody = common.pick(io.read(args.melody), args.piece, args.melody)
    if args.method == "chorale-lstm":
        from cadenza.symbolic.bachbot import BachBot

        common.set_threads(args)
        score = BachBot.from_pretrained(args.bachbot_model).harmonize(melody, temperature=args.temperature,
                                                                       seed=args.seed)  # fmt: skip
        paths = common.write_outputs(score, args.output)
        print(f"alto, tenor and bass by the chorale LSTM under the soprano: {score.n_notes} notes")
        common.print_written(paths)
        return 0
    from cadenza.core.score import Key
    from cadenza.symbolic.genetic import CourseHarmonizer
    from cadenza.symbolic.harmonize import HarmonyModel

    model = HarmonyModel.from_pretrained(args.model)
    key = Key.parse(args.key) if args.key else None
    if args.method == "viterbi":
        from cadenza.symbolic.harmonize import harmonize

        harmony = harmonize(melody, model, key=key, chords_per_bar=args.chords_per_bar)
    elif args.method == "ga":
        from cadenza.symbolic.genetic import ga_harmonize

        ga = _ga_config(args)
        harmony, result = ga_harmonize(melody, model, key=key, chords_per_bar=args.chords_per_bar, cfg=ga)
        kind = "memetic GA" if ga.local_search else "GA"
        print(f"{kind}: best fitness {result.best_fitness:.3f} after {result.generations} generations of "
              f"{result.population}")  # fmt: skip
        if args.plot:
            from cadenza.evaluate.plots import convergence_png

            convergence_png(result.log, args.plot)
            print(f"convergence plot: {args.plot}")
    else:
        from cadenza.symbolic.genetic import course_harmonization

        harmony = course_harmonization(melody, CourseHarmonizer(seed=args.seed))
    paths = common.write_outputs(harmony.score, args.output)
    names = " ".join(c.name for c in harmony.chords[:32]) + (" ..." if len(harmony.chords) > 32 else "")
    print(f"key {harmony.key.name}, {len(harmony.chords)} chords: {names}")
    common.print_written(paths)
    return 0


def _ga_config(args: argparse.Namespace) -> Any:
    from cadenza.symbolic.genetic import GAConfig

    if args.plain_ga:  # the generational GA alone, for comparison: no local search, every generation run
        return GAConfig(population=args.population or 96, generations=args.generations or 300, local_search=False,
                        block_mutation=0.0,
                        stall=None, seed=args.seed)  # fmt: skip
    return GAConfig(population=args.population, generations=args.generations, seed=args.seed)


def _evaluate(args: argparse.Namespace) -> int:
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.harmonize import HarmonyModel
    from cadenza.symbolic.harmonize_eval import METHODS as EVAL_METHODS
    from cadenza.symbolic.harmonize_eval import evaluate_harmonizers

    model = HarmonyModel.from_pretrained(args.model)
    ga = _ga_config(args)
    corpus = load_corpus(args.corpus, progress=not args.json)
    result: dict[str, Any] = evaluate_harmonizers(model, corpus.split("test"), EVAL_METHODS, ga=ga)
    result |= {"corpus": args.corpus, "split": "test"}
    if common.print_json(args, result):
        return 0
    n = result["melodies"]
    print(f"{n['count']} held-out chorales of {args.corpus} ({n['beats']} beats), soprano in; chord per beat "
          "against the chorales' own (root + quality):")  # fmt: skip
    for method in (*EVAL_METHODS, "always_tonic"):
        r = result[method]
        extra = f"   {1000 * r['seconds_per_melody']:8.1f} ms per melody" if "seconds_per_melody" in r else ""
        if "mean_gap_to_optimum" in r:
            at = round(r["share_at_optimum"] * n["count"])
            extra += (f"   at the exact optimum on {at}/{n['count']}, {100 * r['mean_gap_to_optimum']:.1f}% below it "
                      "on average")  # fmt: skip
        print(f"  {method:13s} accuracy {r['accuracy']:.3f}{extra}")
    return 0


def register(sub: Any) -> None:
    h = sub.add_parser("harmonize", help="harmonize a melody in four parts (chord HMM: GA or Viterbi; BachBot)")
    h.add_argument("melody", nargs="?", help="MIDI / MusicXML / ABC / kern file; its first part is the tune")
    h.add_argument("-o", "--output", help=common.STEM_HELP + "; not with --evaluate")
    h.add_argument(
        "--method", default="ga", help="ga (default), viterbi (the exact optimum), course (the reference), chorale-lstm"
    )
    h.add_argument("--model", help="a harmony model folder or name (default: the shipped harmony-bach)")
    h.add_argument("--bachbot-model", help="chorale-lstm: model folder or name (default: the shipped bachbot)")
    h.add_argument("--temperature", type=float, default=0.7, help="chorale-lstm: sampling temperature")
    h.add_argument("--chords-per-bar", type=int, help="chord slots per bar (default: one per beat)")
    h.add_argument("--key", help='e.g. "G major" (default: from the file, else estimated)')
    h.add_argument("--piece", type=int)
    h.add_argument("--population", type=int, help="GA population size (default: 2 per chord slot, 32..128)")
    h.add_argument("--generations", type=int,
                   help="GA generations at most, restarts included (default: 4 per chord slot, 100..1000; after 40 "
                        "without progress it starts afresh, 6 times at most, then stops)")  # fmt: skip
    h.add_argument("--plain-ga", action="store_true", help="GA: without local search (the memetic step)")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--threads", type=int, default=1, help="chorale-lstm: CPU threads (default 1)")
    h.add_argument("--plot", metavar="PNG", help="GA: draw best and mean fitness per generation")
    h.add_argument("--evaluate", action="store_true", help="compare the methods on the held-out chorales")
    h.add_argument("--corpus", default="bach")
    common.add_json(h)
    h.set_defaults(func=cmd_harmonize)
