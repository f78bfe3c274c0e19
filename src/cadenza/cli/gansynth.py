"""`cadenza gansynth train | generate | render`: whole pitched notes from a latent and a pitch (GANSynth)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from cadenza.audio.gansynth import GANSynthConfig, describe
    from cadenza.audio.gansynth_train import CARD, DISC_GROUP, cpu_config, train_gansynth

    if args.size not in ("cpu", "paper"):
        raise InputError("--size", f"must be cpu or paper, not {args.size!r}")
    if args.batch_size < 2:
        raise InputError("--batch-size", "must be at least 2 (the discriminator compares notes within a batch)")
    if args.gp_every < 1:
        raise InputError("--gp-every", "must be at least 1")
    make = cpu_config if args.size == "cpu" else GANSynthConfig
    cfg = make(if_channel=not args.magnitude_only, projection=args.projection, pitch_map=args.pitch_map)
    if args.pitches:
        lo, hi = args.pitches
        if not 0 <= lo <= hi <= 127:
            raise InputError("--pitches", f"{lo} {hi} is not a MIDI pitch range (LOW <= HIGH, 0-127)")
        cfg = replace(cfg, pitch_low=lo, pitch_high=hi)
    if args.hold_out_pitches:
        held = sorted(set(args.hold_out_pitches))
        if bad := [p for p in held if not cfg.pitch_low < p < cfg.pitch_high]:
            span = f"{cfg.pitch_low}-{cfg.pitch_high}"
            raise InputError("--hold-out-pitches", f"{bad[0]} is not inside the pitch range {span} (ends are trained)")
        cfg = replace(cfg, held_out=tuple(held))
    # a GAN's quality wanders from checkpoint to checkpoint: the one of its best pitch accuracy is kept
    tc = common.train_config(args, betas=(0.5, 0.9), weight_decay=0.0, grad_clip=0.0, groups=(DISC_GROUP,),
                             keep_best="valid/pitch_accuracy")  # fmt: skip
    model, figures = train_gansynth(args.data, Path(args.output) / "run", cfg, tc, batch_size=args.batch_size,
                                    gp_every=args.gp_every, new_segment=args.new_segment,
                                    export_step=args.export_step, mode_seeking=args.mode_seeking)  # fmt: skip
    print(f"pitch accuracy {figures['pitch_pitch_accuracy']:.2f} (CREPE, one note per pitch, {model.phases[0]} phase), "
          f"timbre spread {figures['timbre_spread']:.3f} across 8 latents (real instruments: about 0.17)")  # fmt: skip
    if cfg.held_out:
        print(f"pitch accuracy {figures['held_out_pitch_accuracy']:.2f} at the held-out pitches "
              f"{' '.join(map(str, cfg.held_out))} (4 latents each)")  # fmt: skip
    d = describe(model)
    common.save_trained(model, args, figures, CARD, name=Path(args.output).name, latent_dim=cfg.latent_dim,
                        pitches=f"MIDI {d['pitches']}", representation=d["representation"], resolution=d["resolution"],
                        seconds=cfg.n_samples / cfg.sample_rate, sample_rate=cfg.sample_rate, n_fft=cfg.n_fft,
                        hop=cfg.hop, gp_every=args.gp_every, data=args.data,
                        conditioning=conditioning(cfg, figures, args.mode_seeking), phase=model.phases[0],
                        other_phases=", ".join(f"{p} {100 * figures[f'pitch_accuracy_{p}_phase']:.0f}%"
                                               for p in model.phases[1:]),
                        config=json.dumps(asdict(cfg)))  # fmt: skip
    return 0


def _pitches(args: argparse.Namespace) -> list[int]:
    if not args.pitch:
        raise InputError("--pitch", "give at least one MIDI pitch")
    return list(args.pitch)


def cmd_generate(args: argparse.Namespace) -> int:
    import numpy as np

    from cadenza.audio.gansynth import GANSynth
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    common.set_threads(args)
    model = GANSynth.from_pretrained(args.model)
    pitches = _pitches(args)
    for p in pitches:
        model.pitch_index(p)  # a pitch outside the trained range: one line, exit 2
    if args.interpolate:
        if args.steps < 2:
            raise InputError("--steps", "an interpolation needs at least 2 steps")
        a, b = (model.latents(1, s)[0] for s in args.interpolate)
        z = model.interpolate(a, b, args.steps)
        notes = model.generate([pitches[0]] * args.steps, z=z, phase=args.phase)
        sa, sb = args.interpolate
        what = f"{args.steps} notes at MIDI {pitches[0]} from seed {sa}'s timbre to seed {sb}'s"
    else:
        one = model.latents(1, args.seed) if args.same_timbre else None
        notes = model.generate(pitches, z=one, seed=args.seed, phase=args.phase)
        what = f"{len(pitches)} note(s) at MIDI {' '.join(map(str, pitches))}"
    gap = np.zeros(int(args.gap * model.cfg.sample_rate), dtype=np.float32)
    audio = np.concatenate([np.concatenate([n, gap]) for n in notes]).astype(np.float32)
    clip = AudioClip(audio[None], model.cfg.sample_rate).limit_peak(-1.0)
    write_audio(clip, args.output)
    print(f"wrote {args.output}: {what} ({clip.duration_s:.1f} s, {args.phase or model.phases[0]} phase)")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from cadenza.audio.gansynth import GANSynth
    from cadenza.core.audio import AudioClip
    from cadenza.io import read_score
    from cadenza.io.audio import write_audio

    common.set_threads(args)
    score = read_score(args.input)
    model = GANSynth.from_pretrained(args.model)
    audio, moved = model.render(score, seed=args.seed, phase=args.phase)
    write_audio(AudioClip(audio[None], model.cfg.sample_rate), args.output)
    lo, hi = model.cfg.pitch_low, model.cfg.pitch_high
    extra = f"; {moved} note(s) moved by octaves into MIDI {lo}-{hi}" if moved else ""
    print(
        f"wrote {args.output}: {score.n_notes} notes, {len(audio) / model.cfg.sample_rate:.1f} s, "
        f"one timbre (seed {args.seed}), {args.phase or model.phases[0]} phase{extra}"
    )
    return 0


def conditioning(cfg: Any, figures: dict[str, Any], mode_seeking: float = 0.0) -> str:
    """The card's sentences on what the run adds to the paper: the kept checkpoint, how the pitch enters beyond the
    paper's one-hot, and the mode-seeking term."""
    parts = []
    if figures.get("exported_step") is not None:
        parts.append(f"The generator of the run's checkpoint at step {figures['exported_step']:,}, chosen with "
                     "`--export-step`.")  # fmt: skip
    if cfg.pitch_map:
        parts.append("The pitch also enters as maps of where its harmonics fall on the frequency axis (`--pitch-map`, "
                     "not in the paper): at every generator stage and as the discriminator's input channels"
                     + ("; the generated IF is a deviation from an in-tune harmonic note's IF." if cfg.if_channel
                        else "."))  # fmt: skip
    if cfg.projection:
        parts.append("The pitch also sets a bias per channel at every generator stage and a projection term in the "
                     "critic (`--projection`, not in the paper).")  # fmt: skip
    if cfg.held_out:
        parts.append(
            f"MIDI {', '.join(map(str, cfg.held_out))} were held out of training (`--hold-out-pitches`): "
            "the generator plays them from the mean of their neighbours' one-hots and the pitch maps."
        )
    if mode_seeking:
        parts.append(f"Against mode collapse, a mode-seeking term (Mao et al. 2019; `--mode-seeking "
                     f"{mode_seeking:g}`, not in the paper): the generator is penalized when two latents make nearly "
                     "the same note.")  # fmt: skip
    return " ".join(parts)


DEFAULT_MODEL = "gansynth-notes-magnitude"  # GANSynth.shipped (not imported here: `cadenza --help` stays light)


def _add_phase(p: argparse.ArgumentParser) -> None:
    p.add_argument("--phase", choices=("drawn", "in-tune", "griffin-lim"),
                   help="the notes' phase: the IF the generator drew, an in-tune harmonic note's at the pitch, or "
                        "Griffin-Lim's from the magnitude (default: the model's first; see its card)")  # fmt: skip


def register(sub: Any) -> None:
    g = sub.add_parser("gansynth", help="GANSynth: whole pitched notes from a latent (timbre) and a pitch")
    gsub = g.add_subparsers(dest="gansynth_command", required=True, metavar="ACTION")
    t = gsub.add_parser("train", help="train on a note set (from `cadenza data notes`)")
    t.add_argument("--data", required=True, help="a folder from `cadenza data notes`")
    t.add_argument("--size", default="cpu", help="cpu (1 s notes, 64 x 256; default) or paper (4 s, 128 x 512)")
    t.add_argument(
        "--pitches",
        type=int,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="MIDI pitch range to learn (default: cpu 36-84, paper 24-84)",
    )
    t.add_argument("--magnitude-only", action="store_true", help="no IF channel (the paper's ablation)")
    t.add_argument("--projection", action="store_true",
                   help="pitch also as a per-stage bias and a projection critic term (not in the paper)")  # fmt: skip
    t.add_argument("--pitch-map", action="store_true",
                   help="pitch also as maps of its harmonics, to both networks (not in the paper)")  # fmt: skip
    t.add_argument("--hold-out-pitches", type=int, nargs="+", metavar="PITCH",
                   help="MIDI pitches never trained: to measure how it plays pitches it never heard")  # fmt: skip
    t.add_argument("--export-step", type=int, metavar="STEP",
                   help="train nothing: write the model of that kept checkpoint instead of the last")  # fmt: skip
    t.add_argument("--mode-seeking", type=float, default=0.0, metavar="W",
                   help="weight of a mode-seeking term against timbre collapse (Mao et al. 2019; 0: off)")  # fmt: skip
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--gp-every", type=int, default=4, help="gradient penalty every N steps (lazy; default 4)")
    common.add_training(t, steps=2700, lr=1e-4)
    t.set_defaults(func=cmd_train)

    gen = gsub.add_parser("generate", help="notes at MIDI pitches, or a timbre interpolation at one pitch")
    common.add_model(gen, DEFAULT_MODEL)
    gen.add_argument("--pitch", type=int, nargs="+", help="MIDI pitches, played one after another")
    gen.add_argument("--seed", type=int, default=0, help="the latent(s) (timbre)")
    gen.add_argument("--same-timbre", action="store_true", help="one latent for every pitch")
    gen.add_argument("--interpolate", type=int, nargs=2, metavar=("SEED_A", "SEED_B"),
                     help="morph between two seeds' timbres at the first pitch")  # fmt: skip
    gen.add_argument("--steps", type=int, default=5, help="notes in the interpolation (default 5)")
    _add_phase(gen)
    gen.add_argument("--gap", type=float, default=0.1, help="seconds of silence between notes")
    common.add_threads(gen)
    common.add_output(gen, "output .wav")
    gen.set_defaults(func=cmd_generate)

    r = gsub.add_parser("render", help="a MIDI / MusicXML / ABC file played with the model as the instrument")
    r.add_argument("input", help="a score file")
    common.add_model(r, DEFAULT_MODEL)
    r.add_argument("--seed", type=int, default=0, help="the latent: one timbre for every note")
    _add_phase(r)
    common.add_threads(r)
    common.add_output(r, "output .wav")
    r.set_defaults(func=cmd_render)
