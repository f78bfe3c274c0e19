"""`cadenza harmonize`: a melody in four parts, by the chord HMM (Viterbi, GA), the course's GA or BachBot."""

from __future__ import annotations

import argparse
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError

METHODS = ("ga", "viterbi", "course", "chorale-lstm")
STYLES = {"chorale": "harmony-bach", "pop": "harmony-pop"}  # --style -> the shipped chord model


def cmd_harmonize(args: argparse.Namespace) -> int:
    if args.method not in METHODS:
        raise InputError("--method", f"unknown method {args.method!r} (known: {', '.join(METHODS)})")
    if args.melody == "train" and not args.evaluate:
        from pathlib import Path

        if not Path("train").exists():  # `cadenza harmonize train --corpus X -o DIR`, unless a file is called so
            return _train(args)
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

    model = HarmonyModel.from_pretrained(args.model or STYLES[args.style])
    key = Key.parse(args.key) if args.key else None
    if args.method == "viterbi":
        from cadenza.symbolic.harmonize import harmonize

        harmony = harmonize(melody, model, key=key, chords_per_bar=args.chords_per_bar, texture=args.texture)
    elif args.method == "ga":
        from cadenza.symbolic.genetic import ga_harmonize

        ga = _ga_config(args)
        harmony, result = ga_harmonize(melody, model, key=key, chords_per_bar=args.chords_per_bar, cfg=ga,
                                       texture=args.texture)  # fmt: skip
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


def _train(args: argparse.Namespace) -> int:
    """`cadenza harmonize train --corpus NAME_OR_FOLDER -o DIR`: the chord model of chorales or lead sheets."""
    import time
    from pathlib import Path

    from cadenza.corpus import load_corpus
    from cadenza.symbolic.harmonize import CARD_TRAINED, beat_labels, label_accuracy, train_harmony

    if not args.output:
        raise InputError("harmonize train", "give -o DIR for the model")
    corpus = load_corpus(args.corpus, progress=not args.json)
    usable = [s for s in corpus.scores if beat_labels(s) is not None]
    if not usable:
        raise InputError(args.corpus, "no four-part chorale or lead sheet with chord symbols and a key to learn from")
    split = {id(s): sp for s, sp in zip(corpus.scores, corpus.split_of)}
    train = [s for s in usable if split[id(s)] == "train"]
    valid = [s for s in usable if split[id(s)] == "valid"] or train
    test = [s for s in usable if split[id(s)] == "test"]
    t0 = time.perf_counter()
    model, tried = train_harmony(train, valid)
    seconds = time.perf_counter() - t0
    test_acc = label_accuracy(model, test) if test else float("nan")
    w = model.weights
    card = CARD_TRAINED.format(corpus=args.corpus, train=len(train), valid=len(valid), test=len(test),
                               melody=w.melody, transition=w.transition,
                               rhythm=", ".join(model.rhythm) or "none (it did not help on the valid split)",
                               tried="\n".join(f"| {k} | {v:.4f} |" for k, v in tried.items()),
                               test_acc=test_acc, seconds=seconds)  # fmt: skip
    model.save_pretrained(args.output, card=card)
    result = {"train": len(train), "valid": len(valid), "test": len(test), "weights": vars(w),
              "rhythm": {m: v.tolist() for m, v in model.rhythm.items()}, "test_label_accuracy": round(test_acc, 4),
              "seconds": round(seconds, 2), "output": args.output}  # fmt: skip
    if common.print_json(args, result):
        return 0
    print(f"chord model of {args.corpus}: {len(train)} pieces to learn from, {len(valid)} to choose the weights "
          f"(melody {w.melody:g}, transitions {w.transition:g}, harmonic rhythm "
          f"{'learned for ' + ', '.join(model.rhythm) if model.rhythm else 'off'}); label accuracy on {len(test)} "
          f"held-out pieces {test_acc:.3f}; {seconds:.1f} s")  # fmt: skip
    common.print_written([Path(args.output) / "model.json", Path(args.output) / "card.md"])
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cadenza.corpus import NAMED, load_corpus
    from cadenza.symbolic.harmonize import HarmonyModel

    model = HarmonyModel.from_pretrained(args.model or STYLES[args.style])
    ga = _ga_config(args)
    corpus = load_corpus(args.corpus, progress=not args.json)
    pieces = corpus.split("test") if args.corpus in NAMED or not Path(args.corpus).is_dir() else corpus.scores
    if not any(len(s.parts) >= 4 and s.key is not None for s in pieces):
        if not any(s.chords for s in pieces):
            raise InputError(args.corpus, "no four-part chorale and no lead sheet with chord symbols to evaluate on")
        return _evaluate_leadsheets(args, model, pieces, ga)
    from cadenza.symbolic.harmonize_eval import METHODS as EVAL_METHODS
    from cadenza.symbolic.harmonize_eval import evaluate_harmonizers

    result: dict[str, Any] = evaluate_harmonizers(model, pieces, EVAL_METHODS, ga=ga)
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


def _evaluate_leadsheets(args: argparse.Namespace, model: Any, pieces: list[Any], ga: Any) -> int:
    from cadenza.symbolic.harmonize_eval import evaluate_leadsheets

    result: dict[str, Any] = evaluate_leadsheets(model, pieces, ga=ga, progress=not args.json)
    result |= {"corpus": args.corpus, "model": args.model or STYLES[args.style]}
    if common.print_json(args, result):
        return 0
    n = result["melodies"]
    print(f"{n['count']} lead sheets of {args.corpus} ({n['beats']} beats with a chord symbol), melody in; the chord "
          f"sounded per beat (all voices) against the symbol: root / root+triad / root+quality")  # fmt: skip
    for method in ("viterbi", "ga", "tonic"):
        r = result[method]
        a = r["sounded"]
        vl = r["per_100_beats"]
        extra = ""
        if "share_at_optimum" in r:
            extra = f", at the optimum on {round(r['share_at_optimum'] * n['count'])}/{n['count']}"
        print(f"  {method:8s} {a['root']:.3f} / {a['root_triad']:.3f} / {a['root_quality']:.3f}   complete chords "
              f"{100 * r['complete_chords']:.0f}%, parallel 5ths/8ves {vl['parallel_fifths']:.2f}/"
              f"{vl['parallel_octaves']:.2f} per 100 beats, {r['seconds_per_melody']:.2f} s per melody"
              f"{extra}")  # fmt: skip
    return 0


def register(sub: Any) -> None:
    h = sub.add_parser("harmonize", help="harmonize a melody in four parts (chord HMM: GA or Viterbi; BachBot)",
                       description="harmonize MELODY -o OUT; harmonize --evaluate [--corpus C]; harmonize train "
                                   "--corpus C -o DIR (a chord model of chorales or lead sheets)")  # fmt: skip
    h.add_argument("melody", nargs="?", help="MIDI / MusicXML / ABC / kern file; its first part is the tune")
    h.add_argument("-o", "--output", help=common.STEM_HELP + "; not with --evaluate")
    h.add_argument(
        "--method", default="ga", help="ga (default), viterbi (the exact optimum), course (the reference), chorale-lstm"
    )
    h.add_argument("--model", help="a harmony model folder or name (default: the --style's shipped model)")
    h.add_argument(
        "--style",
        choices=tuple(STYLES),
        default="chorale",
        help="chord vocabulary and rhythm: chorale (learned from Bach) or pop (from POP909 lead sheets)",
    )
    h.add_argument("--texture", choices=("satb", "chords", "oompah"), default="satb",
                   help="four voices (default), block chords and a bass, or an oom-pah accompaniment")  # fmt: skip
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
    h.add_argument(
        "--evaluate",
        action="store_true",
        help="compare the methods on held-out chorales, or on lead sheets with chord symbols",
    )
    h.add_argument("--corpus", default="bach",
                   help="--evaluate / train: a corpus name (test split) or a folder (all of it); "
                        "default bach")  # fmt: skip
    common.add_json(h)
    h.set_defaults(func=cmd_harmonize)
