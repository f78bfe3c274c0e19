"""`cadenza corpus list | stats | export`: the named corpora and folders of music files."""

from __future__ import annotations

import argparse
from typing import Any

from cadenza.cli import common


def cmd_list(args: argparse.Namespace) -> int:
    from cadenza.corpus import list_corpora

    for name, desc in list_corpora().items():
        print(f"{name:10s} {desc}")
    print(f"{'<folder>':10s} any folder of .mid/.midi/.xml/.mxl/.musicxml/.abc/.krn files")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from cadenza.corpus import corpus_stats, load_corpus

    corpus = load_corpus(args.name, limit=args.limit, progress=not args.json)
    stats = corpus_stats(corpus)
    if args.plot:
        from cadenza.evaluate.plots import pitch_class_histogram_png

        pitch_class_histogram_png(stats["pitch_class_histogram"], args.plot, title=f"{args.name}: pitch classes")
    if common.print_json(args, stats):
        return 0
    s = stats["splits"]
    print(f"corpus      {stats['corpus']}")
    print(f"pieces      {stats['pieces']} (train {s['train']}, valid {s['valid']}, test {s['test']})")
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


def cmd_export(args: argparse.Namespace) -> int:
    from cadenza import io
    from cadenza.corpus import corpus_piece

    score = corpus_piece(args.name, args.piece)
    io.write(score, args.output)
    print(f"wrote {args.output}: {score.title or score.source} ({score.n_notes} notes)")
    return 0


def register(sub: Any) -> None:
    corp = sub.add_parser("corpus", help="list, describe and export corpora")
    csub = corp.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    cl = csub.add_parser("list", help="the named corpora")
    cl.set_defaults(func=cmd_list)
    cs = csub.add_parser("stats", help="pieces, notes, keys, meters, pitch range, duration")
    cs.add_argument("name", help="a corpus name (see `corpus list`), essen/<sub>, or a folder")
    common.add_json(cs)
    cs.add_argument("--plot", metavar="PNG", help="also draw the pitch-class histogram")
    cs.add_argument("--limit", type=int, help="only the first N source files")
    cs.set_defaults(func=cmd_stats)
    ce = csub.add_parser("export", help="write one piece of a corpus to a file (parses only the file that holds it)")
    ce.add_argument("name")
    ce.add_argument("--piece", type=int, required=True, help="piece index (0-based, in corpus order)")
    ce.add_argument("-o", "--output", required=True, help="OUT.mid | OUT.xml | OUT.abc")
    ce.set_defaults(func=cmd_export)
