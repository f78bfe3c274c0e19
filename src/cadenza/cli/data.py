"""`cadenza data render | textures`: audio datasets made here (corpus pieces rendered with General MIDI
instruments, with captions; procedural sound textures driven by parameters)."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from cadenza.cli import common


def cmd_render(args: argparse.Namespace) -> int:
    from cadenza.audio.datasets import render_dataset

    corpus = args.corpus[0] if len(args.corpus) == 1 else args.corpus
    program = args.program[0] if len(args.program) == 1 else args.program
    soundfont = args.soundfont[0] if args.soundfont and len(args.soundfont) == 1 else args.soundfont
    entries = render_dataset(corpus, program, args.output, minutes=args.minutes,
                             sample_rate=args.sample_rate, seed=args.seed, soundfont=soundfont,
                             bpm_range=tuple(args.bpm) if args.bpm else None)  # fmt: skip
    splits = Counter(e.split for e in entries)
    minutes = sum(e.duration_s for e in entries) / 60
    print(f"wrote {args.output}: {len(entries)} clips, {minutes:.1f} min at {args.sample_rate} Hz "
          f"(train {splits['train']}, valid {splits['valid']}, test {splits['test']}) and manifest.jsonl")  # fmt: skip
    print(f"e.g. {entries[0].file}: {entries[0].caption}")
    return 0


def cmd_textures(args: argparse.Namespace) -> int:
    from cadenza.audio.textures import build_textures

    entries = build_textures(args.kind, args.output, n_clips=args.clips, duration_s=args.duration,
                             sample_rate=args.sample_rate, seed=args.seed, curve=args.curves)  # fmt: skip
    print(f"wrote {args.output}: {len(entries)} clips of {args.duration:g} s ({', '.join(args.kind)}) and "
          "manifest.jsonl")  # fmt: skip
    print(f"e.g. {entries[0]['file']}: {entries[0]['caption']}")
    return 0


def cmd_notes(args: argparse.Namespace) -> int:
    from collections import Counter

    from cadenza.audio.notes import PITCHED_PROGRAMS, build_notes
    from cadenza.render import program_number

    programs = [program_number(p) for p in args.program] if args.program else list(PITCHED_PROGRAMS)
    entries = build_notes(args.output, soundfonts=args.soundfont, programs=programs,
                          pitch_range=(args.pitches[0], args.pitches[1]), velocities=args.velocities,
                          sample_rate=args.sample_rate, workers=args.workers)  # fmt: skip
    splits = Counter(e["split"] for e in entries)
    instruments = {s: len({e["instrument"] for e in entries if e["split"] == s}) for s in splits}
    print(f"wrote {args.output}: {len(entries)} notes of 4 s ("
          + ", ".join(f"{s} {splits[s]} notes of {instruments[s]} instruments" for s in ("train", "valid", "test")
                      if s in splits) + ") and manifest.jsonl")  # fmt: skip
    return 0


def register(sub: Any) -> None:
    data = sub.add_parser(
        "data", help="build audio datasets: rendered corpus pieces, procedural textures, single notes"
    )
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    r = dsub.add_parser("render", help="render corpus pieces with one GM instrument (+ manifest with captions)")
    r.add_argument("--corpus", nargs="+", default=["essen"], help="corpus names or folders (default essen)")
    r.add_argument(
        "--program",
        nargs="+",
        default=["violin"],
        help="GM instrument(s), name or number (default violin); with several, each piece draws one",
    )
    r.add_argument("--minutes", type=float, default=10.0, help="total audio to render (default 10)")
    r.add_argument("--sample-rate", type=int, default=16000)
    r.add_argument("--soundfont", nargs="+",
                   help="SoundFont files or names: fluidr3 (default), timgm6mb, musescore; with several, each piece "
                        "draws one")  # fmt: skip
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--bpm", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="draw each piece's tempo log-uniformly in LOW..HIGH bpm "
                        "(default: its own tempo x 0.8-1.25)")  # fmt: skip
    common.add_output(r, "new dataset folder")
    r.set_defaults(func=cmd_render)
    t = dsub.add_parser("textures", help="procedural sound textures driven by parameters in [0, 1]")
    t.add_argument("--kind", nargs="+", default=["wind"], help="wind rain engine bugs fm applause (default wind)")
    t.add_argument("--clips", type=int, default=40, help="clips per kind (default 40)")
    t.add_argument("--duration", type=float, default=8.0, help="seconds per clip (default 8)")
    t.add_argument("--sample-rate", type=int, default=16000)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--curves", choices=["smooth", "steps"], default="smooth",
                   help="the parameters' curves: smooth (default), or steps that jump and hold")  # fmt: skip
    common.add_output(t, "new dataset folder")
    t.set_defaults(func=cmd_textures)
    n = dsub.add_parser("notes", help="an NSynth-like set of single notes: GM programs x SoundFonts x pitches")
    n.add_argument("--soundfont", nargs="+", default=["fluidr3", "timgm6mb", "musescore"],
                   help="SoundFont files or names (default: fluidr3 timgm6mb musescore); an instrument is one "
                        "program of one SoundFont")  # fmt: skip
    n.add_argument("--program", nargs="+", help="GM programs, names or numbers (default: every pitched one, 0-111)")
    n.add_argument(
        "--pitches",
        type=int,
        nargs=2,
        default=[24, 84],
        metavar=("LOW", "HIGH"),
        help="MIDI pitch range (default 24 84)",
    )
    n.add_argument("--velocities", type=int, nargs="+", default=[100], help="MIDI velocities (default 100)")
    n.add_argument("--sample-rate", type=int, default=16000)
    n.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    common.add_output(n, "dataset folder (an unfinished one resumes)")
    n.set_defaults(func=cmd_notes)
