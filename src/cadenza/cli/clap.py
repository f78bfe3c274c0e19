"""`cadenza clap train | search | eval`: cadenza's own CLAP model (contrastive language-audio pretraining)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.audio_tower import AudioTowerConfig
    from cadenza.audio.captions import MUSIC_TEMPLATES, TEXTURE_TEMPLATES
    from cadenza.audio.clap import CARD, ClapConfig, train_clap

    tower = AudioTowerConfig(channels=tuple(args.channels), window_s=args.window)
    cfg = ClapConfig(tower=tower, joint_dim=args.joint_dim, batch_size=args.batch_size)
    model, figures = train_clap(args.data, args.output, cfg, common.train_config(args), new_segment=args.new_segment)
    f = figures
    print(f"held-out retrieval over {f['clips']} clips: text->audio R@1 {f['text_to_audio_r1']:.3f}, R@10 "
          f"{f['text_to_audio_r10']:.3f} (chance {f['chance_r1']:.3f} / {f['chance_r10']:.3f}); zero-shot "
          f"classification {f['zero_shot_accuracy']:.3f} (chance {f['zero_shot_chance']:.3f})")  # fmt: skip
    from pathlib import Path

    from cadenza.audio.sound_data import describe

    common.save_trained(model, args, figures, CARD, name=Path(args.output).name, data=describe(args.data),
                        n_blocks=len(tower.channels), n_mels=tower.n_mels, window=tower.window_s,
                        sample_rate=tower.sample_rate, joint_dim=cfg.joint_dim,
                        n_templates=len(MUSIC_TEMPLATES) + len(TEXTURE_TEMPLATES),
                        config=json.dumps(asdict(cfg)))  # fmt: skip
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from cadenza.audio.clap import CLAP
    from cadenza.audio.embed import audio_files, read_clips

    common.set_threads(args)
    clap = CLAP.from_pretrained(args.model)
    files, clips, notes = read_clips(audio_files(args.folder), clap.cfg.tower.sample_rate)
    for note in notes:
        print(note)
    if not clips:
        raise InputError(args.folder, "has no readable, non-silent audio")
    audio = clap.embed_audio(clips)
    query = clap.embed_text([args.text])[0]
    order = (audio @ query).argsort()[::-1][: args.top]
    result = [{"file": str(files[i]), "similarity": round(float(audio[i] @ query), 4)} for i in order]
    if common.print_json(args, result):
        return 0
    print(f"closest to {args.text!r} (cosine similarity, CLAP):")
    for r in result:
        print(f"  {r['similarity']:+.3f}  {r['file']}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from cadenza.audio.clap import CLAP, evaluate_clap
    from cadenza.audio.sound_data import load_clips

    common.set_threads(args)
    clap = CLAP.from_pretrained(args.model)
    clips = load_clips(args.data, ["valid", "test"], clap.cfg.tower.sample_rate, progress=not args.json)
    r = evaluate_clap(clap, clips)
    if common.print_json(args, r):
        return 0
    print(f"{r['clips']} held-out clips, canonical captions; recall@1 / @10 (chance {r['chance_r1']:.3f} / "
          f"{r['chance_r10']:.3f}):")  # fmt: skip
    print(f"  text -> audio  {r['text_to_audio_r1']:.3f} / {r['text_to_audio_r10']:.3f}")
    print(f"  audio -> text  {r['audio_to_text_r1']:.3f} / {r['audio_to_text_r10']:.3f}")
    for kind in ("music", "textures"):
        if kind in r:
            k = r[kind]
            print(f"  {kind} alone ({k['clips']} clips): text -> audio {k['text_to_audio_r1']:.3f} / "
                  f"{k['text_to_audio_r10']:.3f}, audio -> text {k['audio_to_text_r1']:.3f} / "
                  f"{k['audio_to_text_r10']:.3f} (chance {k['chance_r1']:.3f} / {k['chance_r10']:.3f})")  # fmt: skip
    print(f"zero-shot classification over {r['zero_shot_classes']} classes: {r['zero_shot_accuracy']:.3f} "
          f"(chance {r['zero_shot_chance']:.3f})")  # fmt: skip
    print(f"CLAP score: matched captions {r['clap_score_matched']:.3f}, shuffled {r['clap_score_shuffled']:.3f}")
    return 0


def register(sub: Any) -> None:
    c = sub.add_parser("clap", help="cadenza's CLAP model (language-audio): train, search a folder by text, eval")
    csub = c.add_subparsers(dest="clap_command", required=True, metavar="ACTION")
    t = csub.add_parser("train", help="train on captioned dataset folders (`cadenza data render` / `textures`)")
    t.add_argument("--data", nargs="+", required=True, help="dataset folders")
    t.add_argument("--channels", type=int, nargs="+", default=[32, 64, 128, 256], help="the CNN's block widths")
    t.add_argument("--window", type=float, default=4.0, help="seconds per training window (default 4)")
    t.add_argument("--joint-dim", type=int, default=256)
    t.add_argument("--batch-size", type=int, default=48)
    common.add_training(t, steps=3000, lr=1e-3, eval_every=500)
    t.set_defaults(func=cmd_train)
    s = csub.add_parser("search", help="rank the audio files of a folder by a text query")
    s.add_argument("text", help='e.g. "heavy rain" or "a slow cello melody"')
    s.add_argument("folder")
    s.add_argument("--top", type=int, default=5)
    common.add_model(s, "clap-cadenza")
    common.add_json(s)
    common.add_threads(s)
    s.set_defaults(func=cmd_search)
    e = csub.add_parser("eval", help="retrieval recall and zero-shot accuracy on the held-out clips of datasets")
    e.add_argument("--data", nargs="+", required=True, help="dataset folders")
    common.add_eval(e, "clap-cadenza")
    e.set_defaults(func=cmd_eval)
