"""`cadenza sound-classifier train | predict | eval`: which instrument (or texture) a clip sounds like."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.audio_tower import AudioTowerConfig
    from cadenza.audio.classifier import CARD, ClassifierConfig, train_classifier

    tower = AudioTowerConfig(channels=tuple(args.channels), window_s=args.window)
    cfg = ClassifierConfig(tower=tower, batch_size=args.batch_size)
    model, figures = train_classifier(args.data, args.test, args.output, cfg, common.train_config(args),
                                      new_segment=args.new_segment)  # fmt: skip
    print(f"accuracy on held-out pieces: {figures['valid_accuracy']:.3f} (same SoundFonts), "
          f"{figures['unseen_soundfont_accuracy']:.3f} (an unseen SoundFont, {figures['unseen_clips']} clips); "
          f"chance {figures['chance']:.3f}")  # fmt: skip
    classes = model.cfg.classes
    from pathlib import Path

    from cadenza.audio.sound_data import describe

    common.save_trained(model, args, figures, CARD, name=Path(args.output).name, n_classes=len(classes),
                        classes=", ".join(classes), n_blocks=len(tower.channels), n_mels=tower.n_mels,
                        window=tower.window_s, sample_rate=tower.sample_rate, width=tower.width,
                        data=describe(args.data), test=describe(args.test),
                        config=json.dumps(asdict(model.cfg)))  # fmt: skip
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from cadenza.audio.classifier import SoundClassifier
    from cadenza.audio.embed import audio_files, read_clips

    common.set_threads(args)
    clf = SoundClassifier.from_pretrained(args.model)
    files = [f for p in args.files for f in (audio_files(p) if Path(p).is_dir() else [Path(p)])]
    kept, clips, notes = read_clips(files, clf.cfg.tower.sample_rate)
    for note in notes:
        print(note)
    probs = clf.probabilities(clips) if clips else np.zeros((0, len(clf.cfg.classes)))
    rows = []
    for f, p in zip(kept, probs, strict=True):
        top = p.argsort()[::-1][:3]
        rows.append({"file": str(f), "top": [[clf.cfg.classes[i], round(float(p[i]), 3)] for i in top]})
    if common.print_json(args, rows):
        return 0
    for r in rows:
        print(f"{r['file']}: " + ", ".join(f"{name} {p:.0%}" for name, p in r["top"]))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from cadenza.audio.classifier import SoundClassifier, evaluate_classifier
    from cadenza.audio.sound_data import load_clips

    common.set_threads(args)
    clf = SoundClassifier.from_pretrained(args.model)
    clips = [c for c in load_clips(args.data, ["valid", "test"], clf.cfg.tower.sample_rate, progress=not args.json)
             if c.label in clf.cfg.classes]  # fmt: skip
    r = evaluate_classifier(clf, clips)
    if common.print_json(args, r):
        return 0
    print(f"{r['clips']} held-out clips: accuracy {r['accuracy']:.3f} (chance {r['chance']:.3f})")
    for name, acc in r["per_class"].items():
        print(f"  {name:28s} {acc:.2f}")
    return 0


def register(sub: Any) -> None:
    c = sub.add_parser("sound-classifier", help="which instrument or texture a clip sounds like: train, predict, eval")
    csub = c.add_subparsers(dest="classifier_command", required=True, metavar="ACTION")
    t = csub.add_parser("train", help="train on labelled dataset folders (`cadenza data render` / `textures`)")
    t.add_argument("--data", nargs="+", required=True, help="dataset folders to learn from")
    t.add_argument("--test", nargs="+", required=True, help="dataset folders to measure on (e.g. another SoundFont)")
    t.add_argument("--channels", type=int, nargs="+", default=[32, 64, 128, 256], help="the CNN's blocks")
    t.add_argument("--window", type=float, default=4.0, help="seconds per training window (default 4)")
    t.add_argument("--batch-size", type=int, default=48)
    common.add_training(t, steps=2000, lr=1e-3, eval_every=500)
    t.set_defaults(func=cmd_train)
    p = csub.add_parser("predict", help="the three likeliest classes of audio files (or folders of them)")
    p.add_argument("files", nargs="+")
    common.add_model(p, "sound-classifier")
    common.add_json(p)
    common.add_threads(p)
    p.set_defaults(func=cmd_predict)
    e = csub.add_parser("eval", help="accuracy on the held-out clips of dataset folders")
    e.add_argument("--data", nargs="+", required=True, help="dataset folders")
    common.add_eval(e, "sound-classifier")
    e.set_defaults(func=cmd_eval)
