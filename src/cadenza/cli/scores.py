"""`cadenza convert | render | analyze | compare`: score files in and out, their analysis and set comparison."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cadenza.cli import common


def cmd_convert(args: argparse.Namespace) -> int:
    from cadenza import io

    scores = io.read(args.input)
    out = Path(args.output)
    if out.suffix.lower() == ".abc" and args.piece is None:
        io.write_abc(scores, out)
        print(f"wrote {out} ({len(scores)} tune{'s' if len(scores) != 1 else ''})")
        return 0
    score = common.pick(scores, args.piece, args.input)
    io.write(score, out)
    print(f"wrote {out} ({score.n_notes} notes, {len(score.parts)} parts)")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.render import program_number, render_score

    score = common.pick(io.read(args.input), args.piece, args.input)
    program = program_number(args.program) if args.program is not None else None
    out = render_score(score, args.output, sample_rate=args.sample_rate, program=program, soundfont=args.soundfont)
    print(f"wrote {out} ({score.duration_s:.1f} s of music at {args.sample_rate} Hz)")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.core.score import PITCH_CLASS_NAMES
    from cadenza.evaluate import analyze

    score = common.pick(io.read(args.input), args.piece, args.input)
    result: dict[str, Any] = analyze(score)
    if args.plot:
        from cadenza.evaluate.plots import piano_roll_png

        piano_roll_png(score, args.plot)
        result["plot"] = str(args.plot)
    if common.print_json(args, result):
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
    if common.print_json(args, result):
        return 0
    print(f"{len(generated)} generated pieces vs {len(ref)} pieces of {args.corpus} (Yang & Lerch 2020)")
    print(f"{'feature':32s} {'overlap':>8s} {'KL':>8s}")
    for name, v in result.items():
        print(f"{name:32s} {v['overlap']:8.3f} {v['kl']:8.3f}")
    return 0


def register(sub: Any) -> None:
    c = sub.add_parser("convert", help="convert a score file by suffix (.mid .xml .mxl .abc .krn -> .mid .xml .abc)")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--piece", type=int, help="which piece of a multi-piece file (default: first; all for .abc)")
    c.set_defaults(func=cmd_convert)

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
    common.add_json(a)
    a.add_argument("--plot", metavar="PNG", help="write a piano-roll picture")
    a.add_argument("--piece", type=int)
    a.set_defaults(func=cmd_analyze)

    cmp_ = sub.add_parser("compare", help="how close a folder of generated pieces is to a corpus (OA and KL)")
    cmp_.add_argument("generated", help="folder of generated files")
    cmp_.add_argument("--corpus", required=True)
    cmp_.add_argument("--limit", type=int, help="only the first N source files of the corpus")
    common.add_json(cmp_)
    cmp_.set_defaults(func=cmd_compare)
