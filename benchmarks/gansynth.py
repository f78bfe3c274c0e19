"""GANSynth measured as the paper measures it, on notes of instruments it never saw.

usage: python benchmarks/gansynth.py [--per-pitch 4] [--if-model gansynth-notes]
                                     [--magnitude-model gansynth-notes-magnitude] [--data NOTES]
                                     [--held-out-model RUN]

The note set is the shipped models' (`cadenza data notes --program 0 4 11 12 19 24 27 33 40 42 48 56 57 60 65 68 71
73 80 88 --pitches 36 84`, three SoundFonts, split by instrument), rebuilt in the cache if missing. In one run:
- generated: for every MIDI pitch 36-84, `--per-pitch` latents (seeds), from the IF model and from the same network
  trained on magnitude only for the same minutes, each with every phase it can take (`GANSynth.phases`): the IF
  model's drawn IF (the paper's), an in-tune harmonic note's IF at the pitch asked (the generated magnitude only),
  Griffin-Lim's;
- the ceiling: real notes of the training instruments, as many per pitch, cut to the model's 1.02 s; and each
  representation's own: those notes' magnitudes with Griffin-Lim's phase (the magnitude-only network at its best)
  and with the in-tune IF of their pitch (the IF network's generator drawing no deviation);
- the reference: every held-out (valid + test) note, instruments never seen in training.
Figures: pitch accuracy (CREPE-tiny's median pitch of the note, rounded, is the pitch asked; also per octave), the
share with no confident pitch, octave errors, pitch entropy (bits; the real notes' is the target), FAD, KAD and
NDB/k against the held-out notes with the CLAP and sound-classifier embedders, the timbre spread (how much notes
of one pitch differ: near 0 is mode collapse), and notes generated per second on one core.
With `--held-out-model` (a shipped model's recipe trained with `--hold-out-pitches`): its pitch figures at the pitches
it never heard, beside its own at the pitches it trained on and the shipped model's at the held-out pitches.

Both shipped models are trained with `--pitch-map` (the pitch also as maps of its harmonics' frequencies; with the
paper's one-hot alone, 64 minutes on one core made unpitched noise: README, Measured) and `--mode-seeking 0.1`: the IF
network at the kept checkpoint of its best pitch accuracy on the training evaluation's latents (step 500 of a 52-minute
run; seed 1234, where this script's latents are seeds 1000+), the magnitude network at the end of its 2,700 steps
(69 minutes, the last 19 on two threads). The held-out
pitch model (`--held-out-model`) is the magnitude recipe with `--hold-out-pitches 38 45 52 59 66 73 80` for 40 minutes
(not shipped: `cadenza gansynth train --data NOTES --pitch-map --magnitude-only --mode-seeking 0.1 --hold-out-pitches
38 45 52 59 66 73 80 --lr 2e-4 --eval-every 250 --threads 1 --minutes 40 -o RUN`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cadenza.audio.gansynth import GANSynth
from cadenza.audio.gansynth_train import measure_pitch, read_manifest, timbre_spread
from cadenza.audio.notes import build_notes
from cadenza.core.audio import AudioClip
from cadenza.evaluate.audio_eval import evaluate_folders, median_pitches
from cadenza.io.audio import read_audio, write_audio

from common import write_result

CACHE = Path.home() / ".cache" / "cadenza" / "bench"
PROGRAMS = [0, 4, 11, 12, 19, 24, 27, 33, 40, 42, 48, 56, 57, 60, 65, 68, 71, 73, 80, 88]


def note_set() -> Path:
    data = CACHE / "notes-20programs-36-84"
    if not (data / "manifest.jsonl").exists():
        build_notes(data, soundfonts=["fluidr3", "timgm6mb", "musescore"], programs=PROGRAMS, pitch_range=(36, 84),
                    progress=False)  # fmt: skip
    return data


def write_notes(folder: Path, notes: np.ndarray | list[np.ndarray], pitches: list[int], sr: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (x, p) in enumerate(zip(notes, pitches, strict=True)):
        write_audio(AudioClip(np.asarray(x, dtype=np.float32)[None], sr), folder / f"{i:04d}-{p}.wav")


def real_notes(data: Path, splits: tuple[str, ...], n_samples: int, sr: int, per_pitch: int | None) -> tuple[
        list[np.ndarray], list[int]]:  # fmt: skip
    rows = [r for r in read_manifest(data) if r["split"] in splits and 36 <= r["pitch"] <= 84]
    if per_pitch:  # spread over instruments: the k-th instrument of each pitch, in a fixed order
        by_pitch: dict[int, list[dict[str, Any]]] = {}
        for r in sorted(rows, key=lambda r: r["instrument"]):
            by_pitch.setdefault(r["pitch"], []).append(r)
        rng = np.random.default_rng(0)
        rows = [r for p in sorted(by_pitch) for r in rng.permutation(np.array(by_pitch[p], dtype=object))[:per_pitch]]
    audio = [read_audio(data / r["file"], sample_rate=sr, mono=True).samples[0, :n_samples] for r in rows]
    return audio, [int(r["pitch"]) for r in rows]


def arm(name: str, notes: list[np.ndarray] | np.ndarray, pitches: list[int], sr: int, ref: Path, work: Path) -> dict[
        str, Any]:  # fmt: skip
    folder = work / name
    write_notes(folder, notes, pitches, sr)
    asked = np.array(pitches)
    est = median_pitches(np.stack(notes), sr)
    row: dict[str, Any] = {k: round(v, 4) for k, v in measure_pitch(np.stack(notes), asked, sr, est).items()}
    row["timbre_spread"] = round(timbre_spread(np.stack(notes), asked, sr), 4)
    row["pitch_accuracy_by_octave"] = {}  # MIDI 36-47, 48-59, ...: where in the range the pitch is lost
    for lo in range(36, 85, 12):
        sel = (asked >= lo) & (asked < lo + 12)
        hit = np.rint(np.nan_to_num(est[sel], nan=-1)) == asked[sel]
        row["pitch_accuracy_by_octave"][f"{lo}-{min(lo + 11, 84)}"] = round(float(hit.mean()), 3)
    report = evaluate_folders(folder, ref, embedders=("clap", "classifier"))
    for emb, m in report["metrics"].items():
        row[emb] = {k: round(float(v), 4) for k, v in m.items() if k in ("fad", "kad", "ndb_over_k")}
    row["notes"] = len(pitches)
    print(name, json.dumps(row), flush=True)
    return row


def held_out_pitches(model: GANSynth, baseline: GANSynth, per_pitch: int) -> dict[str, Any]:
    """Pitch figures of a model trained without some pitches: at those pitches, at the ones it trained on, and the
    baseline's (the same network trained on every pitch) at the held-out ones; the latents of seeds 1000+ for each,
    with the default phase and the next (`GANSynth.phases`)."""
    cfg = model.cfg
    held = [p for p in cfg.held_out for _ in range(per_pitch)]
    trained = [p for p in range(cfg.pitch_low, cfg.pitch_high + 1) if p not in cfg.held_out for _ in range(per_pitch)]
    out: dict[str, Any] = {"held_out": list(cfg.held_out), "notes_per_pitch": per_pitch}
    for phase in model.phases[:2]:
        for name, m, asked in (("held-out pitches", model, held), ("trained pitches", model, trained),
                               ("held-out pitches, model trained on them", baseline, held)):  # fmt: skip
            z = torch.cat([m.latents(1, seed=1000 + i) for i in range(len(asked))])
            notes = m.generate(asked, z=z, phase=phase)
            figures = measure_pitch(notes, np.array(asked), cfg.sample_rate)
            row = {k: round(v, 4) for k, v in figures.items() if k != "pitch_entropy_bits"}
            out[f"{name}, {phase} phase"] = row
            print(name, phase, json.dumps(row), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-pitch", type=int, default=4)
    ap.add_argument("--if-model", default="gansynth-notes")
    ap.add_argument("--magnitude-model", default="gansynth-notes-magnitude")
    ap.add_argument("--data", help="the note set, if already rendered (default: rebuilt in the cache)")
    ap.add_argument("--held-out-model", help="the IF recipe trained with --hold-out-pitches (default: not measured)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = Path(args.data) if args.data else note_set()
    models = {"GANSynth (IF, pitch map)": GANSynth.from_pretrained(args.if_model).eval(),
              "magnitude only (pitch map)": GANSynth.from_pretrained(args.magnitude_model).eval()}  # fmt: skip
    cfg = next(iter(models.values())).cfg
    sr = cfg.sample_rate
    pitches = [p for p in range(cfg.pitch_low, cfg.pitch_high + 1) for _ in range(args.per_pitch)]
    work = Path(tempfile.mkdtemp(prefix="gansynth-bench-"))
    try:
        ref_audio, ref_pitches = real_notes(data, ("valid", "test"), cfg.n_samples, sr, None)
        write_notes(work / "reference", ref_audio, ref_pitches, sr)
        figures: dict[str, Any] = {"reference": f"{len(ref_pitches)} held-out notes (valid + test instruments)",
                                   "arms": {}}  # fmt: skip
        real, real_p = real_notes(data, ("train",), cfg.n_samples, sr, args.per_pitch)
        figures["arms"]["real notes (ceiling)"] = arm("real", real, real_p, sr, work / "reference", work)
        # each representation's own ceiling: the real notes' magnitudes with Griffin-Lim's phase (what the
        # magnitude-only network can at best become), and with the in-tune IF of their pitch (the IF network's
        # generator at zero deviation)
        mag_model = models["magnitude only (pitch map)"]
        feats = mag_model.spec(torch.from_numpy(np.stack(real)))
        figures["arms"]["real magnitudes + Griffin-Lim"] = arm(
            "real-gl", mag_model.spec.inverse(feats).numpy(), real_p, sr, work / "reference", work)  # fmt: skip
        if_model = models["GANSynth (IF, pitch map)"]
        idx = torch.tensor([p - cfg.pitch_low for p in real_p])
        in_tune = torch.stack([feats[:, 0], if_model.generator.in_tune[idx]], dim=1)
        figures["arms"]["real magnitudes + in-tune IF"] = arm(
            "real-if", if_model.spec.inverse(in_tune).numpy(), real_p, sr, work / "reference", work)  # fmt: skip
        for name, model in models.items():
            seeds = torch.cat([model.latents(1, seed=1000 + i) for i in range(len(pitches))])
            for phase in model.phases:  # the same magnitudes, each way of getting their phase
                t0 = time.perf_counter()
                notes = model.generate(pitches, z=seeds, phase=phase)
                seconds = time.perf_counter() - t0
                row = arm(f"{name.split()[0].lower()}-{phase}", notes, pitches, sr, work / "reference", work)
                row["notes_per_s_1_core"] = round(len(pitches) / seconds, 1)
                figures["arms"][f"{name}, {phase} phase"] = row
        if args.held_out_model:
            held_model = GANSynth.from_pretrained(args.held_out_model).eval()
            baseline = if_model if held_model.cfg.if_channel else mag_model
            figures["held_out_pitches"] = held_out_pitches(held_model, baseline, args.per_pitch)
        figures["train_notes"] = sum(r["split"] == "train" and 36 <= r["pitch"] <= 84 for r in read_manifest(data))
        figures["note_seconds"] = round(cfg.n_samples / sr, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result("gansynth", figures, command=" ".join(["python benchmarks/gansynth.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
