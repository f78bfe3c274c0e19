"""`cadenza attribute`: which cadenza technique could have made this piece? (creative reverse engineering)"""

from __future__ import annotations

import argparse
import json

from cadenza.cli import common
from cadenza.errors import InputError


def read_piece(path: str, piece: int | None = None) -> tuple[object, str]:
    """A score (MIDI / MusicXML / ABC) or a mono 16 kHz clip (audio) to attribute, and the shipped model for it.

    Raises:
        InputError: unreadable, no notes, or silent.
    """
    from pathlib import Path

    from cadenza.io.audio import AUDIO_SUFFIXES

    if Path(path).suffix.lower() in AUDIO_SUFFIXES:
        import numpy as np

        from cadenza.evaluate.attribution import AUDIO_RATE

        y = common.read_mono(path, AUDIO_RATE, min_s=0.5).samples[0]
        if not np.any(np.abs(y) > 1e-4):
            raise InputError(path, "is silent")
        return y, "attribution-audio"
    from cadenza import io

    score = common.pick(io.read(path), piece, path)
    if score.n_notes == 0:
        raise InputError(path, "has no notes to attribute")
    return score, "attribution-symbolic"


def cmd_attribute(args: argparse.Namespace) -> int:
    from cadenza.evaluate.attribution import Attribution

    piece, shipped = read_piece(args.file, args.piece)
    result = Attribution.from_pretrained(args.model or shipped).attribute(piece)
    if common.print_json(args, result):
        return 0
    print(f"{args.file}: most likely made by")
    for g in result["guesses"]:
        setting = f" ({g['setting']})" if g["setting"] else ""
        print(f"  {g['probability']:6.1%}  {g['technique']}{setting}")
    best = result["guesses"][0]["label"]
    print(f"what sets it apart (its value, and the typical {best}):")
    for f in result["features"][:6]:
        print(f"  {f['feature']:22s} {f['value']:8.3f}   {f[best]:8.3f}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from cadenza.evaluate.attribution import make_dataset

    if args.domain not in ("symbolic", "audio"):
        raise InputError("--domain", f"must be symbolic or audio, not {args.domain!r}")
    counts = make_dataset(args.output, per=args.per, seed=args.seed, domain=args.domain)
    ext = "mid" if args.domain == "symbolic" else "wav"
    print(f"wrote {sum(counts.values())} pieces of {len(counts)} sources to {args.output}/<source>/*.{ext}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from cadenza.evaluate.attribution import CARD, DESCRIPTIONS, confusion_png, train_attribution

    if not 0 < args.test_share < 1:
        raise InputError("--test-share", f"must be in (0, 1), got {args.test_share:g}")
    model, figures = train_attribution(args.data, test_share=args.test_share, seed=args.seed)
    recall = "\n".join(f"| {c} | {r:.2f} |" for c, r in figures["per_class_recall"].items())
    description, limits = DESCRIPTIONS[figures["domain"]]
    data_command = args.data_command or f"cadenza attribute data --domain {figures['domain']} -o {args.data}"
    card = CARD.format(command=common.card_command(f"cadenza attribute train --data {args.data}"), recall=recall,
                       figures=json.dumps({k: v for k, v in figures.items() if k != "confusion"}, indent=1),
                       description=description.format(classes=figures["classes"],
                                                      n_features=len(model.cfg.features)),
                       limits=limits, data_command=data_command, **figures)  # fmt: skip
    model.save_pretrained(args.output, card=card, figures=figures)
    confusion_png(figures, f"{args.output}/confusion.png")
    print(f"held-out accuracy {figures['accuracy']:.3f} over {figures['classes']} sources (chance "
          f"{figures['chance']:.3f}); technique {figures['technique_accuracy']:.3f}; random forest "
          f"{figures['random_forest_accuracy']:.3f}")  # fmt: skip
    print(f"wrote {args.output} (model, card, confusion.png)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("attribute", help="reverse engineering: which technique (and setting) made this score?",
                       description="cadenza attribute piece.mid; cadenza attribute data -o DIR; "
                                   "cadenza attribute train --data DIR -o OUT")  # fmt: skip
    ssub = s.add_subparsers(dest="verb", required=True, metavar="{FILE,data,train}")
    a = ssub.add_parser("piece", help="attribute a MIDI / MusicXML / ABC file (the default verb)")
    a.add_argument("file", help="a .mid, .xml/.mxl or .abc file, or a .wav/.flac/.ogg recording")
    a.add_argument("--piece", type=int, help="which piece of a multi-tune file (default: the first)")
    a.add_argument(
        "--model",
        help="an attribution model folder (default: attribution-symbolic for scores, attribution-audio for audio)",
    )
    common.add_json(a)
    a.set_defaults(func=cmd_attribute)
    d = ssub.add_parser("data", help="every generator's outputs (and real pieces) as MIDI, a folder per source")
    d.add_argument("--domain", default="symbolic", help="symbolic (MIDI of every score generator) or audio (4 s "
                                                         "clips of every audio model)")  # fmt: skip
    d.add_argument("--per", type=int, default=40, help="pieces per source (default 40)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("-o", "--output", required=True)
    d.set_defaults(func=cmd_data)
    t = ssub.add_parser("train", help="fit the classifier; measure it on held-out pieces")
    t.add_argument("--data", required=True, help="a folder from `cadenza attribute data`")
    t.add_argument("--test-share", type=float, default=0.25, help="share of each source held out (default 0.25)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-command", help="how the data was made, for the card (default: the usual command)")
    t.add_argument("-o", "--output", required=True)
    t.set_defaults(func=cmd_train)
