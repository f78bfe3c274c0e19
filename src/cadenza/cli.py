"""The `cadenza` command line. Thin: it parses arguments, calls library functions, prints results.

Every user mistake (a bad file, an unknown name, an unsupported option) ends with one line on stderr
and exit code 2; nothing is half-written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cadenza.core.audio import AudioError
from cadenza.core.score import Score, ScoreError
from cadenza.errors import CadenzaError, InputError

EXIT_USAGE = 2


def _pick(scores: list[Score], piece: int | None, path: str) -> Score:
    if piece is None:
        return scores[0]
    if not 0 <= piece < len(scores):
        raise InputError(path, f"has {len(scores)} pieces; --piece must be 0..{len(scores) - 1}")
    return scores[piece]


# ------------------------------------------------------------------------------------------------ commands


def cmd_convert(args: argparse.Namespace) -> int:
    from cadenza import io

    scores = io.read(args.input)
    out = Path(args.output)
    if out.suffix.lower() == ".abc" and args.piece is None:
        io.write_abc(scores, out)
        print(f"wrote {out} ({len(scores)} tune{'s' if len(scores) != 1 else ''})")
        return 0
    score = _pick(scores, args.piece, args.input)
    io.write(score, out)
    print(f"wrote {out} ({score.n_notes} notes, {len(score.parts)} parts)")
    return 0


def cmd_corpus_list(args: argparse.Namespace) -> int:
    from cadenza.corpus import list_corpora

    for name, desc in list_corpora().items():
        print(f"{name:10s} {desc}")
    print(f"{'<folder>':10s} any folder of .mid/.midi/.xml/.mxl/.musicxml/.abc/.krn files")
    return 0


def corpus_stats(corpus: Any) -> dict[str, Any]:
    """Summary figures of a loaded corpus (what `cadenza corpus stats` prints)."""
    scores = corpus.scores
    keys = Counter(s.key.name if s.key else "unknown" for s in scores)
    meters = Counter(str(s.time_signature) for s in scores)
    pitches = [n.pitch for s in scores for p in s.parts if not p.is_drum for n in p.notes]
    pcs = [0] * 12
    for pitch in pitches:
        pcs[pitch % 12] += 1
    quarters = sum(s.end for s in scores)
    seconds = sum(s.duration_s for s in scores)
    return {
        "corpus": corpus.name,
        "pieces": len(scores),
        "notes": len(pitches),
        "splits": {sp: corpus.split_of.count(sp) for sp in ("train", "valid", "test")},
        "keys": dict(keys.most_common()),
        "meters": dict(meters.most_common()),
        "lowest_pitch": min(pitches) if pitches else None,
        "highest_pitch": max(pitches) if pitches else None,
        "duration_quarters": round(quarters, 2),
        "duration_hours": round(seconds / 3600, 3),
        "pitch_class_histogram": pcs,
        "skipped_count": len(corpus.skipped),
        "skipped": [{"file": f, "reason": r} for f, r in corpus.skipped],
    }


def cmd_corpus_stats(args: argparse.Namespace) -> int:
    from cadenza.corpus import load_corpus

    corpus = load_corpus(args.name, limit=args.limit, progress=not args.json)
    stats = corpus_stats(corpus)
    if args.plot:
        from cadenza.evaluate.plots import pitch_class_histogram_png

        pitch_class_histogram_png(stats["pitch_class_histogram"], args.plot, title=f"{args.name}: pitch classes")
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"corpus      {stats['corpus']}")
    print(f"pieces      {stats['pieces']} (train {stats['splits']['train']}, valid {stats['splits']['valid']}, "
          f"test {stats['splits']['test']})")  # fmt: skip
    print(f"notes       {stats['notes']}")
    print(f"pitch range {stats['lowest_pitch']}..{stats['highest_pitch']} (MIDI)")
    print(f"duration    {stats['duration_quarters']} quarter notes, {stats['duration_hours']} h at the pieces' tempi")
    print("keys        " + ", ".join(f"{k} {v}" for k, v in list(stats["keys"].items())[:8]))
    print("meters      " + ", ".join(f"{k} {v}" for k, v in list(stats["meters"].items())[:8]))
    if corpus.skipped:
        print(f"skipped     {len(corpus.skipped)} unreadable files or tunes:")
        for f, reason in corpus.skipped[:10]:
            print(f"  {f}: {reason}")
    if args.plot:
        print(f"plot        {args.plot}")
    return 0


def cmd_corpus_export(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.corpus import load_corpus

    corpus = load_corpus(args.name, progress=True)
    score = _pick(corpus.scores, args.piece, args.name)
    io.write(score, args.output)
    print(f"wrote {args.output}: {score.title or score.source} ({score.n_notes} notes)")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.render import program_number, render_score

    score = _pick(io.read(args.input), args.piece, args.input)
    program = program_number(args.program) if args.program is not None else None
    out = render_score(score, args.output, sample_rate=args.sample_rate, program=program, soundfont=args.soundfont)
    print(f"wrote {out} ({score.duration_s:.1f} s of music at {args.sample_rate} Hz)")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.evaluate import analyze

    score = _pick(io.read(args.input), args.piece, args.input)
    result = analyze(score)
    if args.plot:
        from cadenza.evaluate.plots import piano_roll_png

        piano_roll_png(score, args.plot)
        result["plot"] = str(args.plot)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"title     {result['title']}")
    print(f"key       {result['key']} ({result['key_source']})")
    print(f"meter     {result['meter']}   tempo {result['tempo_bpm']} bpm")
    print(f"parts     {', '.join(result['parts'])}")
    print(f"notes     {result['notes']}, {result['duration_quarters']} quarters ({result['duration_s']} s)")
    print(f"range     {result['lowest_pitch']}..{result['highest_pitch']}")
    print("metrics (MusPy):")
    for name, value in result["metrics"].items():
        print(f"  {name:26s} {'n/a (no drums)' if value is None else value}")
    from cadenza.core.score import PITCH_CLASS_NAMES

    pcs = result["pitch_class_histogram"]
    print("pitch classes: " + " ".join(f"{n}:{c}" for n, c in zip(PITCH_CLASS_NAMES, pcs)))
    if args.plot:
        print(f"piano roll written to {args.plot}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from cadenza.corpus import load_corpus
    from cadenza.evaluate import compare_sets

    generated = load_corpus(args.generated, progress=not args.json).scores
    reference = load_corpus(args.corpus, limit=args.limit, progress=not args.json)
    ref = reference.split("test") or reference.scores
    result = compare_sets(generated, ref)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{len(generated)} generated pieces vs {len(ref)} pieces of {args.corpus} (Yang & Lerch 2020)")
    print(f"{'feature':32s} {'overlap':>8s} {'KL':>8s}")
    for name, v in result.items():
        print(f"{name:32s} {v['overlap']:8.3f} {v['kl']:8.3f}")
    return 0


def write_outputs(score: Score, output: str, *, program: int | None = None) -> list[Path]:
    """Write a generated score as MIDI, MusicXML and WAV next to each other (OUT.mid, OUT.xml, OUT.wav)."""
    from cadenza import io
    from cadenza.render import render_score

    stem = Path(output)
    if stem.suffix.lower() in (".mid", ".midi", ".xml", ".wav", ".abc", ".mxl"):
        stem = stem.with_suffix("")
    paths = [stem.with_suffix(".mid"), stem.with_suffix(".xml"), stem.with_suffix(".wav")]
    io.write(score, paths[0])
    io.write(score, paths[1])
    render_score(score, paths[2], program=program)
    return paths


def _parse_range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in text.split(".."))
    except ValueError:
        raise InputError("--range", f"expected LOW..HIGH in MIDI numbers, got {text!r}") from None
    if not 0 <= lo < hi <= 127:
        raise InputError("--range", f"{text} is not inside 0..127")
    return lo, hi


def cmd_markov_train(args: argparse.Namespace) -> int:
    import time

    from cadenza.corpus import load_corpus
    from cadenza.symbolic.markov import MarkovConfig, MarkovMelody

    corpus = load_corpus(args.corpus)
    t0 = time.perf_counter()
    model = MarkovMelody(MarkovConfig(order=args.order)).fit(corpus.split("train"))
    seconds = time.perf_counter() - t0
    model.save(args.output)
    counts = ", ".join(f"{k} {v}" for k, v in model.n_pieces.items())
    print(f"trained order-{args.order} model on {counts} melodies of {args.corpus} (train split) in {seconds:.1f} s")
    print(f"wrote {args.output}")
    return 0


def cmd_markov_generate(args: argparse.Namespace) -> int:
    import numpy as np

    from cadenza.core.score import Key, TimeSignature
    from cadenza.paths import shipped_model
    from cadenza.symbolic.markov import MarkovMelody

    model = MarkovMelody.load(args.model or shipped_model("markov-essen", "model.json.gz"))
    score = model.generate(
        bars=args.bars,
        key=Key.parse(args.key),
        time_signature=TimeSignature.parse(args.meter),
        pitch_range=_parse_range(args.range),
        end_on_tonic=not args.free_ending,
        temperature=args.temperature,
        rng=np.random.default_rng(args.seed),
        tempo_bpm=args.tempo,
    )
    paths = write_outputs(score, args.output)
    print(f"{score.n_notes} notes, {args.bars} bars of {args.meter} in {score.key.name if score.key else '?'}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_markov_evaluate(args: argparse.Namespace) -> int:
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.markov import MarkovConfig
    from cadenza.symbolic.markov_eval import cross_validate

    corpus = load_corpus(args.corpus, limit=args.limit, progress=not args.json)
    result = cross_validate(corpus.scores, MarkovConfig(order=args.order), folds=args.folds, progress=not args.json)
    result["corpus"] = args.corpus
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    c = result["course"]
    course_bits = "inf" if c["bits_per_note"] is None else f"{c['bits_per_note']:.3f}"
    print(f"{result['folds']}-fold cross-validation on {result['pieces']} melodies ({result['notes']} notes) of "
          f"{args.corpus}, bits per note (lower is better):")  # fmt: skip
    print(
        f"  model, viewpoints {'+'.join(result['model']['viewpoints'])}, order {args.order}: "
        f"pitch {result['model']['bits_per_note']:.3f}, pitch+duration {result['model']['joint_bits_per_note']:.3f}"
    )
    print(f"  model, pitch viewpoint alone: {result['pitch_viewpoint_only']['bits_per_note']:.3f}")
    print(
        f"  course chain: pitch {course_bits} ({100 * c['zero_probability_share']:.2f}% of notes have "
        f"probability 0; {c['bits_per_note_on_nonzero']:.3f} on the others)"
    )
    print(f"  anchor: IDyOM (Pearce & Wiggins 2004) about {result['anchor']['idyom_pitch_bits_per_note']} for pitch")
    return 0


def cmd_harmonize(args: argparse.Namespace) -> int:
    from cadenza.paths import shipped_model
    from cadenza.symbolic.genetic import CourseHarmonizer, GAConfig
    from cadenza.symbolic.harmonize import HarmonyModel

    if args.method not in ("viterbi", "ga", "course", "chorale-lstm"):
        raise InputError("--method", f"unknown method {args.method!r} (known: viterbi, ga, course, chorale-lstm)")
    if args.method == "chorale-lstm" and not args.evaluate:
        return _harmonize_bachbot(args)
    model = HarmonyModel.load(args.model or shipped_model("harmony-bach", "model.json"))
    ga = GAConfig(population=args.population, generations=args.generations, seed=args.seed)
    if args.evaluate:
        return _harmonize_evaluate(args, model, ga)
    if not args.melody or not args.output:
        raise InputError("harmonize", "give a MELODY file and -o OUT (or --evaluate --corpus NAME)")
    from cadenza import io
    from cadenza.core.score import Key

    melody = _pick(io.read(args.melody), args.piece, args.melody)
    if args.chords_per_bar is not None and args.chords_per_bar < 1:
        raise InputError("--chords-per-bar", "must be at least 1")
    key = Key.parse(args.key) if args.key else None
    if args.method == "viterbi":
        from cadenza.symbolic.harmonize import harmonize

        harmony = harmonize(melody, model, key=key, chords_per_bar=args.chords_per_bar)
    elif args.method == "ga":
        from cadenza.symbolic.genetic import ga_harmonize

        harmony, result = ga_harmonize(melody, model, key=key, chords_per_bar=args.chords_per_bar, cfg=ga)
        print(f"GA: best fitness {result.best_fitness:.3f} after {ga.generations} generations of {ga.population}")
        if args.plot:
            from cadenza.evaluate.plots import convergence_png

            convergence_png(result.log, args.plot)
            print(f"convergence plot: {args.plot}")
    else:
        from cadenza.symbolic.genetic import course_harmonization

        harmony = course_harmonization(melody, CourseHarmonizer(seed=args.seed))
    paths = write_outputs(harmony.score, args.output)
    names = " ".join(c.name for c in harmony.chords[:32]) + (" ..." if len(harmony.chords) > 32 else "")
    print(f"key {harmony.key.name}, {len(harmony.chords)} chords: {names}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _harmonize_bachbot(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.symbolic.bachbot import harmonize_bachbot, load_bachbot

    if not args.melody or not args.output:
        raise InputError("harmonize", "give a MELODY file and -o OUT")
    melody = _pick(io.read(args.melody), args.piece, args.melody)
    model = load_bachbot(args.bachbot_model)
    score = harmonize_bachbot(melody, model, temperature=args.temperature, seed=args.seed)
    paths = write_outputs(score, args.output)
    print(f"alto, tenor and bass by the chorale LSTM under the soprano: {score.n_notes} notes")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _harmonize_evaluate(args: argparse.Namespace, model: Any, ga: Any) -> int:
    from cadenza.corpus import load_corpus
    from cadenza.symbolic.harmonize_eval import METHODS, evaluate_harmonizers

    corpus = load_corpus(args.corpus, progress=not args.json)
    result: dict[str, Any] = evaluate_harmonizers(model, corpus.split("test"), METHODS, ga=ga)
    result |= {"corpus": args.corpus, "split": "test"}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    n = result["melodies"]
    print(f"{n['count']} held-out chorales of {args.corpus} ({n['beats']} beats), soprano in; chord per beat "
          "against the chorales' own (root + quality):")  # fmt: skip
    for method in (*METHODS, "always_tonic"):
        r = result[method]
        extra = f"   {1000 * r['seconds_per_melody']:8.1f} ms per melody" if "seconds_per_melody" in r else ""
        if "mean_gap_to_optimum" in r:
            extra += f"   {100 * r['mean_gap_to_optimum']:.1f}% below the exact optimum"
        print(f"  {method:13s} accuracy {r['accuracy']:.3f}{extra}")
    return 0


def cmd_compose(args: argparse.Namespace) -> int:
    import numpy as np

    from cadenza.core.score import Key
    from cadenza.corpus import load_corpus
    from cadenza.paths import shipped_model
    from cadenza.symbolic.compose import Style, compose
    from cadenza.symbolic.markov import MarkovMelody

    if args.bars_per_section < 1:
        raise InputError("--bars-per-section", "must be at least 1")
    style = Style.learn(load_corpus(args.corpus).split("train"))
    melody_model = MarkovMelody.load(args.melody_model or shipped_model("markov-essen", "model.json.gz"))
    piece = compose(style, melody_model, key=Key.parse(args.key), bars_per_section=args.bars_per_section,
                    tempo_bpm=args.tempo, rng=np.random.default_rng(args.seed))  # fmt: skip
    paths = write_outputs(piece.score, args.output)
    print(
        f"form {' '.join(piece.form)} ({len(piece.form) * args.bars_per_section} bars, {piece.score.duration_s:.0f} s)"
    )
    for label, chords in piece.progressions.items():
        print(f"  {label}: {' '.join(chords)}")
    print("wrote " + ", ".join(str(p) for p in paths))
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
        from cadenza.paths import shipped_model
        from cadenza.symbolic.markov import MarkovMelody

        critic = markov_critic(MarkovMelody.load(shipped_model("markov-essen", "model.json.gz")))
    jam = GenJam(chords, critic, GenJamConfig(generations=args.generations, seed=args.seed))
    if args.interactive:
        _rate_interactively(jam, args)
    else:
        jam.evolve()
        print(
            f"{args.generations} tournaments: best phrase fitness {jam.log[0]['best']:.2f} -> {jam.log[-1]['best']:.2f}"
        )
    solo = jam.solo(args.bars, tempo_bpm=args.tempo)
    paths = write_outputs(solo, args.output)
    print(f"{len(solo.parts[0].notes)} solo notes over {args.bars} bars of {' '.join(c.symbol for c in chords)}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _rate_interactively(jam: Any, args: argparse.Namespace) -> None:
    """GenJam's interactive fitness: the listener rates phrases good (g) or bad (b) while they play."""
    import numpy as np

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
                from cadenza.core.score import Part, Score, TimeSignature

                render_score(Score((Part(tuple(notes), program=65),), time_signature=TimeSignature(4, 4),
                                   tempo_bpm=args.tempo), path)  # fmt: skip
            answer = input(f"round {round_ + 1}: phrase {i} ({path if notes else 'silence'}) good/bad? [g/b/enter] ")
            ratings[int(i)] = ratings.get(int(i), 0.0) + {"g": 1.0, "b": -1.0}.get(answer.strip().lower()[:1], 0.0)
        jam.evolve(generations=8, rate=lambda k: ratings.get(k, 0.0))
    print(f"rated {len(ratings)} phrases in {args.rounds} rounds")


def card_command(default: str) -> str:
    """The command line that is running, for a model card (`default` when not run as `cadenza`)."""
    return "cadenza " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("cadenza") else default


def _card_figures(figures: dict[str, Any]) -> str:
    return "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in figures.items())


def cmd_train_music_transformer(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.symbolic.transformer import KIND, JSBTrainConfig, model_config, train_jsb
    from cadenza.train.checkpoint import save_model
    from cadenza.train.loop import TrainConfig

    if args.position not in ("relative", "absolute"):
        raise InputError("--position", f"must be relative or absolute, not {args.position!r}")
    cfg = JSBTrainConfig(
        block_size=args.context,
        n_layer=args.layers,
        n_head=args.heads,
        n_embd=args.width,
        dropout=args.dropout,
        position=args.position,
        batch_size=args.batch_size,
        max_shift=args.max_shift,
    )
    tc = TrainConfig(
        max_steps=args.steps, lr=args.lr, warmup_steps=min(100, args.steps // 10), eval_every=args.eval_every,
        checkpoint_every=args.eval_every, seed=args.seed, threads=args.threads,
    )  # fmt: skip
    model, figures = train_jsb(cfg, tc, args.output)
    command = card_command("cadenza train ...")
    card = MT_CARD.format(
        position=cfg.position, config=json.dumps(asdict(cfg)), train=json.dumps(asdict(tc)), command=command,
        minutes=figures["train_seconds"] / 60, figures=_card_figures(figures),
    )  # fmt: skip
    config = {"model": asdict(model_config(cfg)), "jsb": asdict(cfg), "train": asdict(tc), "figures": figures}
    save_model(args.output, model, config, kind=KIND, card=card)
    print(f"valid NLL {figures['valid_nll']:.4f}, test NLL {figures['test_nll']:.4f} nats per token")
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")
    return 0


MT_CARD = """# Music Transformer, JSB Chorales ({position} attention)

Decoder-only Transformer (`cadenza.nn.gpt.GPT`, position="{position}") trained on the 229 train chorales of
the JSB Chorales benchmark (16th-note grid, voices serialized S, A, T, B per step; a random transposition of
up to +-5 semitones per window). Never trained on the validation or test split, nor on music21's chorales.

- Model: `{config}`
- Optimization: `{train}`
- Command: `{command}`
- Wall time: {minutes:.1f} min on this machine's CPU (2 cores, fp32)

| figure | value |
|---|---|
{figures}

NLL is note-wise, nats per token, over every token of every piece of the split (`cadenza eval jsb`).
Published anchors: Music Transformer 0.335, vanilla Transformer 0.417 (Huang et al. 2019).
"""


def cmd_eval_jsb(args: argparse.Namespace) -> int:
    import time

    from cadenza.symbolic.transformer import evaluate_jsb, load_music_transformer

    model, _ = load_music_transformer(args.model)
    t0 = time.perf_counter()
    valid, test = evaluate_jsb(model, "valid"), evaluate_jsb(model, "test")
    result = {
        "model": str(args.model or "models/music-transformer-jsb"),
        "position": model.cfg.position,
        "valid_nll": round(valid["nll"], 4),
        "test_nll": round(test["nll"], 4),
        "valid_tokens": int(valid["tokens"]),
        "test_tokens": int(test["tokens"]),
        "seconds": round(time.perf_counter() - t0, 1),
        "anchor": {"music_transformer": 0.335, "vanilla_transformer": 0.417, "coconet": 0.436},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"JSB Chorales, note-wise NLL in nats per token ({model.cfg.position} attention):")
    print(f"  valid_nll {result['valid_nll']:.4f}  ({result['valid_tokens']} tokens)")
    print(f"  test_nll  {result['test_nll']:.4f}  ({result['test_tokens']} tokens)")
    print("  anchors: Music Transformer 0.335, vanilla Transformer 0.417 (Huang et al. 2019)")
    return 0


def _read_primer_grid(path: str, max_tokens: int) -> list[list[int]]:
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


def cmd_generate_music_transformer(args: argparse.Namespace) -> int:
    from cadenza.symbolic.transformer import generate_chorale, load_music_transformer

    model, _ = load_music_transformer(args.model)
    primer = _read_primer_grid(args.primer, model.cfg.block_size) if args.primer else None
    score = generate_chorale(
        model, steps=args.steps, primer=primer, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        seed=args.seed,
    )  # fmt: skip
    paths = write_outputs(score, args.output)
    print(f"{score.n_notes} notes in 4 voices, {args.steps} 16th-note steps" + (" after the primer" if primer else ""))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_train_remi(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.symbolic.remi_lm import KIND, RemiTrainConfig, model_config, train_remi
    from cadenza.train.checkpoint import save_model
    from cadenza.train.loop import TrainConfig

    cfg = RemiTrainConfig(
        block_size=args.context, n_layer=args.layers, n_head=args.heads, n_embd=args.width, dropout=args.dropout,
        batch_size=args.batch_size,
    )  # fmt: skip
    tc = TrainConfig(
        max_steps=args.steps, lr=args.lr, warmup_steps=min(100, args.steps // 10), eval_every=args.eval_every,
        checkpoint_every=args.eval_every, seed=args.seed, threads=args.threads,
    )  # fmt: skip
    model, figures = train_remi(cfg, tc, args.output, limit=args.limit)
    command = card_command("cadenza train ...")
    card = REMI_CARD.format(
        config=json.dumps(asdict(cfg)), train=json.dumps(asdict(tc)), command=command,
        minutes=figures["train_seconds"] / 60, figures=_card_figures(figures),
    )  # fmt: skip
    config = {"model": asdict(model_config(cfg)), "remi": asdict(cfg), "train": asdict(tc), "figures": figures}
    save_model(args.output, model, config, kind=KIND, card=card)
    print(f"valid NLL {figures['valid_nll']:.4f} nats per token (bach {figures['valid_nll_bach']:.4f}, "
          f"essen {figures['valid_nll_essen']:.4f})")  # fmt: skip
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")
    return 0


REMI_CARD = """# REMI Transformer: Bach chorales and Essen tunes

A decoder-only Transformer with relative attention (Music Transformer) on REMI event tokens (MidiTok; Bar,
Position, Program, Pitch, Duration, TimeSig, Tempo; no velocities), one style token per corpus: the train
splits of `bach` (music21's chorales, voices as four string programs) and `essen/erk` (melodies as a flute),
each training window transposed by a random interval of at most 5 semitones.

- Config: `{config}`
- Optimization: `{train}`
- Command: `{command}`
- Wall time: {minutes:.1f} min on this machine's CPU (2 cores, fp32)

| figure | value |
|---|---|
{figures}

NLL in nats per REMI token over whole validation pieces (sliding windows past the context).
"""


def cmd_generate_remi(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.symbolic.remi_lm import STYLES, generate_remi, guess_style, head_bars, load_remi_transformer

    model, _ = load_remi_transformer(args.model)
    primer = None
    if args.primer:
        primer = head_bars(io.read(args.primer)[0], args.primer_bars)
    style = args.style or (guess_style(primer) if primer is not None else "essen")
    if style not in STYLES:
        raise InputError("--style", f"must be one of {', '.join(STYLES)}, not {style!r}")
    score = generate_remi(
        model, style=style, primer=primer, bars=args.bars, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, seed=args.seed,
    )  # fmt: skip
    if score.n_notes == 0:
        raise InputError("remi-transformer", "the sample has no notes; try another --seed")
    paths = write_outputs(score, args.output)
    bars = sum(1 for _ in score.bars())
    print(f"{style}: {score.n_notes} notes in {len(score.parts)} part(s), {bars} bars"
          + (f" (the first {args.primer_bars} from the primer)" if primer is not None else ""))  # fmt: skip
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_train_lstm(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.corpus import load_corpus
    from cadenza.symbolic.lstm import MELODY_KIND, PRESETS, melody_ids, train_melody_lstm
    from cadenza.train.checkpoint import save_model
    from cadenza.train.loop import TrainConfig

    if args.preset not in PRESETS:
        raise InputError("--preset", f"unknown preset {args.preset!r} (known: {', '.join(PRESETS)})")
    preset = PRESETS[args.preset]
    corpus = load_corpus(args.corpus)
    train_songs, skipped = melody_ids(corpus.split("train"))
    valid_songs, _ = melody_ids(corpus.split("valid"))
    if not train_songs or not valid_songs:
        raise InputError(args.corpus, "has no melodies on the 16th-note grid in its train or valid split")
    print(f"{len(train_songs)} train / {len(valid_songs)} valid melodies of {args.corpus} "
          f"({skipped} train melodies off the 16th-note grid skipped)")  # fmt: skip
    tc = TrainConfig(
        max_steps=args.steps, lr=preset.lr, warmup_steps=min(100, args.steps // 10), eval_every=args.eval_every,
        checkpoint_every=args.eval_every, seed=args.seed, threads=args.threads, betas=(0.9, 0.999),
    )  # fmt: skip
    model, figures = train_melody_lstm(preset, tc, train_songs, valid_songs, args.output)
    command = card_command("cadenza train lstm ...")
    card = LSTM_CARD.format(
        preset=preset.name, corpus=args.corpus, n_train=len(train_songs), n_valid=len(valid_songs),
        config=json.dumps(asdict(preset)), train=json.dumps(asdict(tc)), command=command,
        minutes=figures["train_seconds"] / 60, figures=_card_figures(figures),
    )  # fmt: skip
    config = {"model": asdict(preset.model), "preset": asdict(preset), "corpus": args.corpus, "figures": figures}
    save_model(args.output, model, config, kind=MELODY_KIND, card=card)
    print(f"valid NLL {figures['valid_nll']:.4f} nats per symbol, accuracy {figures['valid_accuracy']:.3f}")
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")
    return 0


LSTM_CARD = """# LSTM melody model ({preset} preset), {corpus}

An LSTM over the 16th-note melody grid (pitch / "r" / "_" / "/"), melodies transposed to C major or A minor,
trained on the train split of `{corpus}` ({n_train} melodies; {n_valid} in the valid split).

- Preset: `{config}`
- Optimization: `{train}`
- Command: `{command}`
- Wall time: {minutes:.1f} min on this machine's CPU (2 cores, fp32)

| figure | value |
|---|---|
{figures}

NLL in nats per grid symbol over whole validation melodies and their closing "/"; accuracy = the most
probable symbol is the true one.
"""


def cmd_generate_lstm(args: argparse.Namespace) -> int:
    from cadenza.symbolic.lstm import generate_melody, load_melody_lstm

    model, preset = load_melody_lstm(args.model)
    primer = None
    if args.primer:
        from cadenza import io

        primer = io.read(args.primer)[0]
    score = generate_melody(
        model, preset, primer=primer, max_steps=args.max_steps, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, seed=args.seed, tempo_bpm=args.tempo,
    )  # fmt: skip
    paths = write_outputs(score, args.output)
    key = score.key.name if score.key else "?"
    print(f"{score.n_notes} notes, {score.end / 4:.1f} bars of 4 quarters, key {key}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_train_bachbot(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.corpus import load_corpus
    from cadenza.symbolic.bachbot import KIND, BachBotConfig, chorale_sequences, train_bachbot
    from cadenza.train.checkpoint import save_model
    from cadenza.train.loop import TrainConfig

    corpus = load_corpus(args.corpus)
    train_seqs, skipped = chorale_sequences(corpus.split("train"))
    valid_seqs, _ = chorale_sequences(corpus.split("valid"))
    if not train_seqs or not valid_seqs:
        raise InputError(args.corpus, "has no four-part chorales on the 16th-note grid in its train or valid split")
    print(f"{len(train_seqs)} train / {len(valid_seqs)} valid chorales ({skipped} train pieces skipped: not four "
          "parts or off the 16th-note grid)")  # fmt: skip
    cfg = BachBotConfig()
    tc = TrainConfig(
        max_steps=args.steps, lr=cfg.lr, warmup_steps=min(100, args.steps // 10), eval_every=args.eval_every,
        checkpoint_every=args.eval_every, seed=args.seed, threads=args.threads, betas=(0.9, 0.999),
    )  # fmt: skip
    model, figures = train_bachbot(cfg, tc, train_seqs, valid_seqs, args.output)
    command = card_command("cadenza train bachbot ...")
    card = BACHBOT_CARD.format(
        corpus=args.corpus, n_train=len(train_seqs), n_valid=len(valid_seqs), config=json.dumps(asdict(cfg)),
        train=json.dumps(asdict(tc)), command=command, minutes=figures["train_seconds"] / 60,
        figures=_card_figures(figures),
    )  # fmt: skip
    config = {"model": asdict(cfg.model), "bachbot": asdict(cfg), "corpus": args.corpus, "figures": figures}
    save_model(args.output, model, config, kind=KIND, card=card)
    print(f"valid cross-entropy {figures['valid_nll']:.4f} nats per token (BachBot reports 0.477)")
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")
    return 0


BACHBOT_CARD = """# BachBot-style chorale LSTM, {corpus}

BachBot's encoding (Liang 2016): chorales in C major / A minor, 16th-note frames, each frame an optional
fermata token then (pitch, tied) for soprano, alto, tenor, bass, then "|||"; START / END. Trained on the train
split of `{corpus}` ({n_train} chorales; {n_valid} in the valid split). With `stateful`, training is truncated
backpropagation through time as in torch-rnn (BachBot's trainer): the token stream is cut into `batch_size`
lanes read window after window, the LSTM state carried from each window to the next.

- Config: `{config}`
- Optimization: `{train}`
- Command: `{command}`
- Wall time: {minutes:.1f} min on this machine's CPU (2 cores, fp32)

| figure | value |
|---|---|
{figures}

Cross-entropy in nats per token over whole validation chorales read from START. BachBot reports 0.477.
"""


def cmd_generate_bachbot(args: argparse.Namespace) -> int:
    from cadenza.symbolic.bachbot import decode, decode_tokens, load_bachbot

    model = load_bachbot(args.model)
    tokens = decode(model, n_frames=args.frames, temperature=args.temperature, top_p=args.top_p, seed=args.seed)
    score = decode_tokens(tokens)
    paths = write_outputs(score, args.output)
    print(f"{score.n_notes} notes in 4 voices, {score.end:.1f} quarter notes (C major / A minor)")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cadenza.demo import build_demo

    page = build_demo(Path(args.output))
    print(f"open {page} in a browser")
    return 0


# ------------------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadenza", description="Generative music AI, end to end on a CPU.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("convert", help="convert a score file by suffix (.mid .xml .mxl .abc .krn -> .mid .xml .abc)")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--piece", type=int, help="which piece of a multi-piece file (default: first; all for .abc)")
    c.set_defaults(func=cmd_convert)

    corp = sub.add_parser("corpus", help="list, describe and export corpora")
    csub = corp.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    cl = csub.add_parser("list", help="the named corpora")
    cl.set_defaults(func=cmd_corpus_list)
    cs = csub.add_parser("stats", help="pieces, notes, keys, meters, pitch range, duration")
    cs.add_argument("name", help="a corpus name (see `corpus list`), essen/<sub>, or a folder")
    cs.add_argument("--json", action="store_true", help="print JSON")
    cs.add_argument("--plot", metavar="PNG", help="also draw the pitch-class histogram")
    cs.add_argument("--limit", type=int, help="only the first N source files")
    cs.set_defaults(func=cmd_corpus_stats)
    ce = csub.add_parser("export", help="write one piece of a corpus to a file")
    ce.add_argument("name")
    ce.add_argument("--piece", type=int, required=True, help="piece index (0-based)")
    ce.add_argument("-o", "--output", required=True, help="OUT.mid | OUT.xml | OUT.abc")
    ce.set_defaults(func=cmd_corpus_export)

    r = sub.add_parser("render", help="render a score to WAV with FluidSynth and a General MIDI SoundFont")
    r.add_argument("input")
    r.add_argument("-o", "--output", required=True, help="OUT.wav")
    r.add_argument("--sample-rate", type=int, default=44100)
    r.add_argument("--program", help="GM program name or number for every part (default: each part's own)")
    r.add_argument("--soundfont", help="a .sf2 file (default: the Debian General MIDI SoundFont)")
    r.add_argument("--piece", type=int)
    r.set_defaults(func=cmd_render)

    a = sub.add_parser("analyze", help="key, meter, range and the MusPy metrics of a score")
    a.add_argument("input")
    a.add_argument("--json", action="store_true")
    a.add_argument("--plot", metavar="PNG", help="write a piano-roll picture")
    a.add_argument("--piece", type=int)
    a.set_defaults(func=cmd_analyze)

    cmp_ = sub.add_parser("compare", help="how close a folder of generated pieces is to a corpus (OA and KL)")
    cmp_.add_argument("generated", help="folder of generated files")
    cmp_.add_argument("--corpus", required=True)
    cmp_.add_argument("--limit", type=int, help="only the first N source files of the corpus")
    cmp_.add_argument("--json", action="store_true")
    cmp_.set_defaults(func=cmd_compare)

    mk = sub.add_parser("markov", help="variable-order Markov melodies: train, generate, evaluate")
    msub = mk.add_subparsers(dest="markov_command", required=True, metavar="ACTION")
    mt = msub.add_parser("train", help="train on the train split of a corpus")
    mt.add_argument("--corpus", required=True, help="essen, essen/erk, bach (sopranos), oneills, a folder, ...")
    mt.add_argument("--order", type=int, default=4, help="longest context in notes (default 4)")
    mt.add_argument("-o", "--output", required=True, help="MODEL.json.gz")
    mt.set_defaults(func=cmd_markov_train)
    mg = msub.add_parser("generate", help="sample a melody; writes OUT.mid, OUT.xml and OUT.wav")
    mg.add_argument("--model", help="a model from `markov train` (default: the shipped models/markov-essen)")
    mg.add_argument("-o", "--output", required=True, help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    mg.add_argument("--bars", type=int, default=8)
    mg.add_argument("--key", default="C major", help='e.g. "D minor", "Bb", "f#" (default C major)')
    mg.add_argument("--meter", default="4/4")
    mg.add_argument("--range", default="55..84", help="lowest..highest MIDI pitch (default 55..84)")
    mg.add_argument("--free-ending", action="store_true", help="do not force the last note onto the tonic")
    mg.add_argument("--temperature", type=float, default=1.0)
    mg.add_argument("--tempo", type=float, default=100.0, help="quarter notes per minute")
    mg.add_argument("--seed", type=int, default=0)
    mg.set_defaults(func=cmd_markov_generate)
    me = msub.add_parser("evaluate", help="k-fold held-out bits per note: our model vs the course chain")
    me.add_argument("--corpus", required=True)
    me.add_argument("--order", type=int, default=4)
    me.add_argument("--folds", type=int, default=10)
    me.add_argument("--limit", type=int, help="only the first N source files of the corpus")
    me.add_argument("--json", action="store_true")
    me.set_defaults(func=cmd_markov_evaluate)

    h = sub.add_parser("harmonize", help="harmonize a melody in four parts (an HMM learned from Bach, Viterbi)")
    h.add_argument("melody", nargs="?", help="MIDI / MusicXML / ABC / kern file; its first part is the tune")
    h.add_argument("-o", "--output", help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    h.add_argument(
        "--method", default="ga",
        help="ga (default), viterbi (the exact optimum), course (the reference), chorale-lstm (BachBot-style)",
    )  # fmt: skip
    h.add_argument("--bachbot-model", help="chorale-lstm: model folder (default: the shipped models/bachbot)")
    h.add_argument("--temperature", type=float, default=0.7, help="chorale-lstm: sampling temperature")
    h.add_argument("--chords-per-bar", type=int, help="chord slots per bar (default: one per beat)")
    h.add_argument("--key", help='e.g. "G major" (default: from the file, else estimated)')
    h.add_argument("--model", help="a harmony model (default: the shipped models/harmony-bach)")
    h.add_argument("--piece", type=int)
    h.add_argument("--population", type=int, default=96, help="GA population size")
    h.add_argument("--generations", type=int, default=300, help="GA generations")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--plot", metavar="PNG", help="GA: draw best and mean fitness per generation")
    h.add_argument("--evaluate", action="store_true", help="compare the methods on the held-out chorales")
    h.add_argument("--corpus", default="bach")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_harmonize)

    co = sub.add_parser("compose", help="a multi-track piece, top-down with Markov chains (GEDMAS-style)")
    co.add_argument("--corpus", default="bach", help="where form, chords and rhythms are learned (default bach)")
    co.add_argument("-o", "--output", required=True, help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    co.add_argument("--key", default="C major")
    co.add_argument("--bars-per-section", type=int, default=4)
    co.add_argument("--tempo", type=float, default=100.0)
    co.add_argument("--melody-model", help="a Markov melody model (default: the shipped models/markov-essen)")
    co.add_argument("--seed", type=int, default=0)
    co.set_defaults(func=cmd_compose)

    im = sub.add_parser("improvise", help="a GenJam-style jazz solo over a chord progression (a GA)")
    im.add_argument("--chords", required=True, help='one chord per bar, e.g. "Dm7 G7 Cmaj7 Cmaj7"')
    im.add_argument("--bars", type=int, default=16)
    im.add_argument("-o", "--output", required=True, help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    im.add_argument("--critic", default="markov", help="markov (Essen Markov log-likelihood + rules) or rules")
    im.add_argument("--generations", type=int, default=300, help="tournaments per population")
    im.add_argument("--interactive", action="store_true", help="you rate phrases good/bad: that is the fitness")
    im.add_argument("--rounds", type=int, default=4, help="interactive: rating rounds of 4 phrases")
    im.add_argument("--allow-piped-ratings", action="store_true", help=argparse.SUPPRESS)
    im.add_argument("--tempo", type=float, default=140.0)
    im.add_argument("--seed", type=int, default=0)
    im.set_defaults(func=cmd_improvise)

    tr = sub.add_parser("train", help="train a neural model with the shared loop (resumes from its checkpoints)")
    trsub = tr.add_subparsers(dest="train_command", required=True, metavar="MODEL")
    tmt = trsub.add_parser("music-transformer", help="a Transformer on the JSB Chorales train split")
    tmt.add_argument("-o", "--output", required=True, help="model folder (checkpoints go in OUTPUT/run)")
    tmt.add_argument("--position", default="relative", help="relative (Music Transformer, default) or absolute")
    tmt.add_argument("--steps", type=int, default=3000)
    tmt.add_argument("--context", type=int, default=256, help="context in tokens (4 per 16th-note step)")
    tmt.add_argument("--layers", type=int, default=4)
    tmt.add_argument("--heads", type=int, default=4)
    tmt.add_argument("--width", type=int, default=128)
    tmt.add_argument("--dropout", type=float, default=0.1)
    tmt.add_argument("--batch-size", type=int, default=16)
    tmt.add_argument("--max-shift", type=int, default=5, help="transposition augmentation, +- semitones")
    tmt.add_argument("--lr", type=float, default=1e-3)
    tmt.add_argument("--eval-every", type=int, default=250)
    tmt.add_argument("--threads", type=int, default=0)
    tmt.add_argument("--seed", type=int, default=0)
    tmt.set_defaults(func=cmd_train_music_transformer)

    tl = trsub.add_parser("lstm", help="an LSTM melody model on a corpus's melodies (16th-note grid)")
    tl.add_argument("--corpus", default="essen/erk", help="essen/erk (default), essen, oneills, a folder, ...")
    tl.add_argument("--preset", default="default", help="default (improved) or course (the course's model)")
    tl.add_argument("--steps", type=int, default=2000)
    tl.add_argument("--eval-every", type=int, default=250)
    tl.add_argument("--threads", type=int, default=0)
    tl.add_argument("--seed", type=int, default=0)
    tl.add_argument("-o", "--output", required=True, help="model folder (checkpoints go in OUTPUT/run)")
    tl.set_defaults(func=cmd_train_lstm)
    tr_ = trsub.add_parser("remi-transformer", help="a relative-attention Transformer on REMI tokens (Bach + Essen)")
    tr_.add_argument("--steps", type=int, default=850)
    tr_.add_argument("--context", type=int, default=512)
    tr_.add_argument("--layers", type=int, default=4)
    tr_.add_argument("--heads", type=int, default=4)
    tr_.add_argument("--width", type=int, default=128)
    tr_.add_argument("--dropout", type=float, default=0.1)
    tr_.add_argument("--batch-size", type=int, default=8)
    tr_.add_argument("--lr", type=float, default=1e-3)
    tr_.add_argument("--limit", type=int, help="use only the first N pieces of each corpus (a quick trial)")
    tr_.add_argument("--eval-every", type=int, default=200)
    tr_.add_argument("--threads", type=int, default=0)
    tr_.add_argument("--seed", type=int, default=0)
    tr_.add_argument("-o", "--output", required=True, help="model folder (checkpoints go in OUTPUT/run)")
    tr_.set_defaults(func=cmd_train_remi)
    tb = trsub.add_parser("bachbot", help="a BachBot-style LSTM on four-part chorales")
    tb.add_argument("--corpus", default="bach")
    tb.add_argument("--steps", type=int, default=3000)
    tb.add_argument("--eval-every", type=int, default=250)
    tb.add_argument("--threads", type=int, default=0)
    tb.add_argument("--seed", type=int, default=0)
    tb.add_argument("-o", "--output", required=True, help="model folder (checkpoints go in OUTPUT/run)")
    tb.set_defaults(func=cmd_train_bachbot)

    gen = sub.add_parser("generate", help="sample from a trained neural model (default: the shipped one)")
    gsub = gen.add_subparsers(dest="generate_command", required=True, metavar="MODEL")
    gmt = gsub.add_parser("music-transformer", help="a four-voice chorale from the JSB Music Transformer")
    gmt.add_argument("--model", help="model folder (default: the shipped models/music-transformer-jsb)")
    gmt.add_argument("--primer", help="a four-part score (MIDI / MusicXML) to continue")
    gmt.add_argument("--steps", type=int, default=128, help="16th-note steps to generate (default 128 = 8 bars)")
    gmt.add_argument("--temperature", type=float, default=1.0)
    gmt.add_argument("--top-k", type=int, default=0)
    gmt.add_argument("--top-p", type=float, default=1.0)
    gmt.add_argument("--seed", type=int, default=0)
    gmt.add_argument("-o", "--output", required=True, help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    gmt.set_defaults(func=cmd_generate_music_transformer)

    gl = gsub.add_parser("lstm", help="a melody from the LSTM (default: the shipped models/lstm-essen)")
    gl.add_argument("--model", help="model folder (default: the shipped models/lstm-essen)")
    gl.add_argument("--primer", help="a melody file to continue (MIDI / MusicXML / ABC; first tune, first part)")
    gl.add_argument("--max-steps", type=int, default=256, help="most 16th-note steps to generate (default 256)")
    gl.add_argument("--temperature", type=float, default=1.0)
    gl.add_argument("--top-k", type=int, default=0)
    gl.add_argument("--top-p", type=float, default=1.0)
    gl.add_argument("--tempo", type=float, default=100.0)
    gl.add_argument("--seed", type=int, default=0)
    gl.add_argument("-o", "--output", required=True, help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    gl.set_defaults(func=cmd_generate_lstm)
    gr = gsub.add_parser("remi-transformer", help="a chorale or folk tune from the REMI Transformer")
    gr.add_argument("--model", help="model folder (default: the shipped models/remi-transformer)")
    gr.add_argument("--style", help="bach or essen (default: from the primer's parts, else essen)")
    gr.add_argument("--primer", help="a score to continue (MIDI / MusicXML / ABC; first tune)")
    gr.add_argument("--primer-bars", type=int, default=4, help="bars of the primer to keep (default 4)")
    gr.add_argument("--bars", type=int, default=16, help="length in bars, primer included (default 16)")
    gr.add_argument("--temperature", type=float, default=1.0)
    gr.add_argument("--top-k", type=int, default=0)
    gr.add_argument("--top-p", type=float, default=1.0)
    gr.add_argument("--seed", type=int, default=0)
    gr.add_argument("-o", "--output", required=True, help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    gr.set_defaults(func=cmd_generate_remi)
    gb = gsub.add_parser("bachbot", help="a free four-part chorale (default: the shipped models/bachbot)")
    gb.add_argument("--model", help="model folder (default: the shipped models/bachbot)")
    gb.add_argument("--frames", type=int, default=256, help="most 16th-note frames (default 256 = 16 bars)")
    gb.add_argument("--temperature", type=float, default=1.0)
    gb.add_argument("--top-p", type=float, default=1.0)
    gb.add_argument("--seed", type=int, default=0)
    gb.add_argument("-o", "--output", required=True, help="output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)")
    gb.set_defaults(func=cmd_generate_bachbot)

    from cadenza.commands import abc as abc_commands
    from cadenza.commands import audio as audio_commands
    from cadenza.commands import codec as codec_commands

    abc_commands.add_parser(sub)
    audio_commands.add_parsers(sub)
    codec_commands.add_parser(sub)

    ev = sub.add_parser("eval", help="benchmark evaluations of trained models")
    esub = ev.add_subparsers(dest="eval_command", required=True, metavar="BENCHMARK")
    ej = esub.add_parser("jsb", help="note-wise NLL on the JSB Chorales validation and test splits")
    ej.add_argument("--model", help="model folder (default: the shipped models/music-transformer-jsb)")
    ej.add_argument("--json", action="store_true")
    ej.set_defaults(func=cmd_eval_jsb)

    d = sub.add_parser("demo", help="build the listening page out/demo/index.html")
    d.add_argument("-o", "--output", default="out/demo")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (CadenzaError, ScoreError, AudioError) as e:
        print(f"cadenza: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cadenza: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
