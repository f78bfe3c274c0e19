"""`cadenza eval audio`: FAD, FAD∞, KAD, NDB and outliers per embedder, the classifier's KL, the CLAP score and
pitch entropy of a folder of generated audio against a folder of reference audio."""

from __future__ import annotations

import argparse
from typing import Any

from cadenza.cli import common


def cmd_audio(args: argparse.Namespace) -> int:
    from cadenza.audio.embed import EMBEDDERS
    from cadenza.errors import UnknownNameError
    from cadenza.evaluate.audio_eval import evaluate_folders

    for name in args.embedder:
        if name not in EMBEDDERS:
            raise UnknownNameError("embedder", name, list(EMBEDDERS))
    common.set_threads(args)
    report = evaluate_folders(args.generated, args.reference, embedders=tuple(args.embedder), captions=args.captions,
                              pitch=args.pitch, pitches=args.pitches)  # fmt: skip
    if common.print_json(args, report):
        return 0
    for note in report["notes"]:
        print(note)
    print(f"{report['n_generated']} generated clips ({args.generated}) against {report['n_reference']} reference "
          f"clips ({args.reference}); lower is closer; values of different embedders are not comparable:")  # fmt: skip
    print(f"  {'embedder':11s} {'FAD':>9s} {'FAD-inf':>9s} {'KAD':>9s} {'NDB/k':>6s} {'outliers':>8s}")
    for name, m in report["metrics"].items():
        inf = "n/a" if m["fad_inf"] is None else f"{m['fad_inf']:.4g}"
        print(f"  {name:11s} {m['fad']:9.4g} {inf:>9s} {m['kad']:9.4g} {m['ndb_over_k']:6.2f} "
              f"{m['outlier_share']:8.0%}")  # fmt: skip
    for name, what in report["embedders"].items():
        print(f"  {name}: {what}")
    if "kl" in report:
        kl = report["kl"]
        paired = f", paired clip by clip {kl['kl_paired']:.3f}" if "kl_paired" in kl else ""
        print(f"classifier KL(reference || generated): set {kl['kl_set']:.3f} nats{paired}; most generated clips "
              f"sound like: {kl['generated_top_class']}")  # fmt: skip
    if "clap_score" in report:
        print(f"CLAP score (mean cosine of each caption and its clip): {report['clap_score']:.3f}")
    if "pitch" in report:
        p = report["pitch"]
        print(f"pitch entropy: generated {p['entropy_generated_bits']:.2f} bits, reference "
              f"{p['entropy_reference_bits']:.2f} bits; {p['unpitched_generated']:.0%} of generated clips "
              "unpitched" + (f"; pitch accuracy {p['accuracy']:.3f}" if "accuracy" in p else ""))  # fmt: skip
    return 0


def register(sub: Any) -> None:
    ev = sub.add_parser("eval", help="evaluate generated audio against reference audio (FAD, KAD, KL, CLAP score)")
    esub = ev.add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    a = esub.add_parser("audio", help="a folder of generated audio against a folder of reference audio")
    a.add_argument("generated", help="folder of generated .wav/.flac/.ogg files")
    a.add_argument("--reference", required=True, help="folder of real audio of the same kind")
    a.add_argument("--embedder", nargs="+", default=["clap", "classifier"],
                   help="clap classifier crepe mel (default: clap classifier, the two that climb the benchmark's "
                        "controlled ladder)")  # fmt: skip
    a.add_argument("--captions", help="JSON lines {file, caption} for the generated files: adds the CLAP score")
    a.add_argument("--pitch", action="store_true", help="also the pitch entropy of both sets (CREPE)")
    a.add_argument("--pitches", help="JSON lines {file, pitch} (MIDI asked for): adds GANSynth's pitch accuracy")
    common.add_json(a)
    common.add_threads(a, default=0)
    a.set_defaults(func=cmd_audio)
