"""Training GANSynth on a note set from `cadenza data notes`, and measuring what it makes.

The notes are read once, cut to the model's length and turned into features (log magnitude and IF) kept in memory
as float16; each step draws a batch of them with their pitches and a latent per note, and `GANSynthTrainer` makes
the one loss whose backward trains both sides (the discriminator's parameters, `disc.*`, have their own Adam).

    cfg = cpu_config()                           # 1 s notes, 64 frames x 256 bins: a CPU's size
    model, figures = train_gansynth("data/notes", "runs/gansynth", cfg, TrainConfig(max_steps=4000, ...))

`measure_pitch` is the paper's pitch accuracy and pitch entropy with an independent pitch tracker (CREPE), used
both during training (on one note per pitch) and by benchmarks/gansynth.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cadenza.audio.gansynth import GANSynth, GANSynthConfig, GANSynthTrainer, SpectralIF
from cadenza.errors import InputError
from cadenza.train.loop import ParamGroup, TrainConfig

DISC_GROUP = ParamGroup("discriminator", "disc.")


def cpu_config(**changes: Any) -> GANSynthConfig:
    """The size trained on this project's CPU: the first 1.02 s of each note, 64 frames x 256 bins (n_fft 512, hop
    256: 31 Hz bins, the pitch refined by the IF), MIDI 36-84, thin high-resolution stages. One step of 16 notes
    takes about 0.8 s on two cores (the paper's 128 x 1024 size: 13 s for 8 notes on one core)."""
    base: dict[str, Any] = dict(n_fft=512, hop=256, frames=64, pitch_low=36, pitch_high=84, latent_dim=128,
                                channels=(128, 128, 64, 32, 16, 8))  # fmt: skip
    return GANSynthConfig(**{**base, **changes})


def read_manifest(folder: str | Path) -> list[dict[str, Any]]:
    path = Path(folder) / "manifest.jsonl"
    if not path.is_file():
        raise InputError(folder, "is not a note set (no manifest.jsonl; make one with `cadenza data notes`)")
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise InputError(path, f"line {i} is not JSON ({e.msg})") from None
    return rows


def load_notes(folder: str | Path, split: str, cfg: GANSynthConfig, *, limit_per_pitch: int | None = None,
               progress: bool = False) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, Any]]]:  # fmt: skip
    """The notes of one split in the model's pitch range: (features float16 [N, C, frames, bins], pitch indices [N],
    their manifest rows)."""
    from tqdm.auto import tqdm

    from cadenza.io.audio import read_audio

    rows = [r for r in read_manifest(folder) if r.get("split") == split
            and cfg.pitch_low <= int(r.get("pitch", -1)) <= cfg.pitch_high]  # fmt: skip
    if limit_per_pitch:
        seen: dict[int, int] = {}
        keep = []
        for r in rows:
            seen[r["pitch"]] = seen.get(r["pitch"], 0) + 1
            if seen[r["pitch"]] <= limit_per_pitch:
                keep.append(r)
        rows = keep
    if not rows:
        raise InputError(folder, f"has no {split} notes with pitches {cfg.pitch_low}-{cfg.pitch_high}")
    spec = SpectralIF(cfg)
    feats, chunk = [], 64
    for i in tqdm(range(0, len(rows), chunk), desc=f"features ({split})", unit="batch", disable=not progress):
        audio = np.stack([read_audio(Path(folder) / r["file"], sample_rate=cfg.sample_rate, mono=True)
                          .samples[0, : cfg.n_samples] for r in rows[i : i + chunk]])  # fmt: skip
        with torch.no_grad():
            feats.append(spec(torch.from_numpy(audio).float()).half())
    pitch = torch.tensor([int(r["pitch"]) - cfg.pitch_low for r in rows])
    return torch.cat(feats), pitch, rows


class NoteBatches:
    """Batches of notes with a latent each; the draw is a function of (seed, step) (see `cadenza.train.data`)."""

    def __init__(self, feats: torch.Tensor, pitch: torch.Tensor, batch_size: int, latent_dim: int,
                 seed: int = 0) -> None:  # fmt: skip
        self.feats, self.pitch, self.batch_size, self.latent_dim, self.seed = feats, pitch, batch_size, latent_dim, seed

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        from cadenza.train.data import batch_generator

        g = batch_generator(self.seed, step, rank)
        idx = torch.randint(0, len(self.feats), (self.batch_size,), generator=g)
        z = torch.randn(self.batch_size, self.latent_dim, generator=g)
        return {"feats": self.feats[idx].float(), "pitch": self.pitch[idx], "z": z}


def gansynth_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["feats"], batch["pitch"], batch["z"])["loss"]


def measure_pitch(notes: np.ndarray, asked: np.ndarray, sample_rate: int,
                  est: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """GANSynth's pitch figures with CREPE: accuracy (the rounded estimate is the pitch asked), the share of notes
    with no confident pitch at all, the share an octave off, and the entropy (bits) of the estimates (`est`: CREPE's
    median pitch of each note, if already known; NaN where it has none)."""
    from cadenza.evaluate.audio_eval import median_pitches
    from cadenza.evaluate.audio_metrics import pitch_accuracy, pitch_entropy

    est = median_pitches(notes, sample_rate) if est is None else est
    ok = ~np.isnan(est)
    off = np.abs(np.rint(est[ok]) - asked[ok])
    return {"pitch_accuracy": pitch_accuracy(np.where(ok, est, -1), asked),
            "unpitched_share": float(1 - ok.mean()),
            "octave_error_share": float(((off == 12) | (off == 24)).sum() / len(asked)),
            "pitch_entropy_bits": pitch_entropy(est[ok]) if ok.any() else 0.0}  # fmt: skip


def timbre_spread(notes: np.ndarray, pitches: np.ndarray, sr: int) -> float:
    """How much notes of the same pitch differ: the standard deviation across them of each log-magnitude bin
    (scaled as GANSynth's features, 64 x 256), averaged over bins and pitches. A generator that ignores its latent
    (mode collapse) scores near 0; real notes of different instruments about 0.17."""
    cfg = cpu_config(if_channel=False, sample_rate=sr)
    mags = SpectralIF(cfg)(torch.from_numpy(notes).float())[:, 0]
    spreads = [float(mags[pitches == p].std(0).mean()) for p in np.unique(pitches) if (pitches == p).sum() > 1]
    return float(np.mean(spreads))


def latent_spread(model: GANSynth, per_pitch: int = 8) -> float:
    """The timbre spread of `per_pitch` notes from fixed latents at each of MIDI 48, 60 and 72 (those in range)."""
    cfg = model.cfg
    asked = np.repeat([p for p in (48, 60, 72) if cfg.pitch_low <= p <= cfg.pitch_high] or [cfg.pitch_low], per_pitch)
    return timbre_spread(model.generate(list(asked), seed=4321), asked, cfg.sample_rate)


def train_gansynth(
    data_dir: str | Path,
    out_dir: str | Path,
    cfg: GANSynthConfig,
    tc: TrainConfig,
    *,
    batch_size: int = 16,
    gp_every: int = 4,
    progress: bool = True,
    new_segment: bool = False,
    export_step: int | None = None,
    mode_seeking: float = 0.0,
) -> tuple[GANSynth, dict[str, Any]]:
    """Train on the train split of a note set; checkpoints (and resume) in `out_dir`. Every evaluation generates one
    note per pitch from fixed latents and reports CREPE's pitch figures on them and the timbre spread (`note_figures`);
    the card's figures are the last evaluation's. With `export_step`, nothing is trained: the generator of that kept
    checkpoint is measured and returned instead of the last one."""
    from cadenza.train.loop import train

    pitches = np.arange(cfg.pitch_low, cfg.pitch_high + 1)
    torch.manual_seed(tc.seed)  # the networks' initial weights: a run is repeatable from its seed
    trainer = GANSynthTrainer(cfg, gp_every=gp_every, mode_seeking=mode_seeking)
    if export_step is not None:
        return _export(trainer, Path(out_dir), export_step, data_dir, pitches)
    feats, pitch, _ = load_notes(data_dir, "train", cfg, progress=progress)
    if cfg.held_out:  # those pitches are never seen: the evaluation measures them apart
        keep = ~torch.isin(pitch + cfg.pitch_low, torch.tensor(cfg.held_out))
        feats, pitch = feats[keep], pitch[keep]
    if not any(g.prefix == DISC_GROUP.prefix for g in tc.groups):
        raise ValueError("the training config needs the discriminator's group (DISC_GROUP)")

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {f"valid/{k}": v for k, v in note_figures(m.model, pitches).items()}  # type: ignore[arg-type]

    run_config = {"model": model_config(cfg), "batch_size": batch_size, "gp_every": gp_every, "data": str(data_dir)}
    if mode_seeking:  # only when on, so that runs from before it resume
        run_config["mode_seeking"] = mode_seeking
    result = train(trainer, NoteBatches(feats, pitch, batch_size, cfg.latent_dim, tc.seed), gansynth_loss, tc,
                   out_dir=out_dir, eval_fn=eval_fn, progress=progress, new_segment=new_segment,
                   model_config=run_config)  # fmt: skip
    model = trainer.model.eval()
    model.extra = {"segments": result.segments}
    last = {k.removeprefix("valid/"): v for k, v in result.eval.items()}  # the loop evaluates its last step
    return model, final_figures(model, pitches, len(feats), result.seconds, result.step, last or None)


def model_config(cfg: GANSynthConfig) -> dict[str, Any]:
    """The architecture a checkpoint records; `held_out` only when set, so that runs from before it resume."""
    return {k: v for k, v in asdict(cfg).items() if k != "held_out" or v}


def note_figures(model: GANSynth, pitches: np.ndarray) -> dict[str, float]:
    """What an evaluation measures: CREPE's pitch figures on one note per pitch from fixed latents, and the timbre
    spread of 8 latents at each of three pitches; with held-out pitches, also the pitch accuracy of 4 latents at
    each of them (never heard in training)."""
    notes = model.generate(list(pitches), seed=1234)
    figures = {**measure_pitch(notes, pitches, model.cfg.sample_rate), "timbre_spread": latent_spread(model)}
    if model.cfg.held_out:
        held = np.repeat(model.cfg.held_out, 4)
        notes = model.generate(list(held), seed=1234)
        figures["held_out_pitch_accuracy"] = measure_pitch(notes, held, model.cfg.sample_rate)["pitch_accuracy"]
    return figures


def final_figures(model: GANSynth, pitches: np.ndarray, train_notes: int, seconds: float, step: int,
                  measured: dict[str, float] | None = None) -> dict[str, Any]:  # fmt: skip
    """The card's figures: `note_figures` (measured here unless given), the pitch accuracy of the same notes with
    each other phase (`GANSynth.phases`), and the run's size."""
    measured = note_figures(model, pitches) if measured is None else measured
    figures: dict[str, Any] = {k if k in ("timbre_spread", "held_out_pitch_accuracy") else f"pitch_{k}": round(v, 4)
                               for k, v in measured.items()}  # fmt: skip
    for phase in model.phases[1:]:
        notes = model.generate(list(pitches), seed=1234, phase=phase)
        accuracy = measure_pitch(notes, pitches, model.cfg.sample_rate)["pitch_accuracy"]
        figures[f"pitch_accuracy_{phase}_phase"] = round(accuracy, 4)
    figures.update({"train_notes": train_notes, "train_seconds": round(seconds, 1), "steps": step})
    return figures


def _export(trainer: GANSynthTrainer, out_dir: Path, step: int, data_dir: str | Path,
            pitches: np.ndarray) -> tuple[GANSynth, dict[str, Any]]:  # fmt: skip
    from cadenza.train.checkpoint import checkpoint_state, load_checkpoint
    from cadenza.train.loop import check_model_config

    path = out_dir / "checkpoints" / f"step-{step:07d}"
    if not (path / "state.json").exists():
        kept = sorted(int(p.name[5:]) for p in (out_dir / "checkpoints").glob("step-*") if (p / "state.json").exists())
        raise InputError(path, f"is not a kept checkpoint (kept steps: {', '.join(map(str, kept)) or 'none'})")
    check_model_config(path, {"model": model_config(trainer.model.cfg)})
    state = checkpoint_state(path)
    load_checkpoint(path, trainer)
    model = trainer.model.eval()
    model.extra = {"segments": state.get("segments", [])}
    rows = read_manifest(data_dir)
    train_notes = int(sum(r["split"] == "train" and pitches[0] <= r["pitch"] <= pitches[-1] for r in rows))
    figures = final_figures(model, pitches, train_notes, float(state.get("elapsed_s", 0.0)), step)
    return model, {**figures, "exported_step": step}


CARD = """# GANSynth `{name}` (cadenza)

GANSynth (Engel et al. 2019) at a CPU's size: a generator of a whole note at once from a latent ({latent_dim}-d, the
timbre) and a one-hot MIDI pitch ({pitches}), as {representation} features of {resolution} ({seconds:.2f} s at
{sample_rate} Hz, n_fft {n_fft}, hop {hop}); the discriminator (not shipped) has a Wasserstein critic and a pitch
classifier. {conditioning}

Its notes take their phase the `{phase}` way by default (`--phase`): the generated magnitude with the phase of an
in-tune harmonic note at the pitch asked, every bin following its nearest harmonic exactly; the figures below are
taken so. CREPE's pitch accuracy on the same notes with the other phases: {other_phases}.

WGAN-GP (the gradient penalty every {gp_every} steps, scaled by {gp_every}: lazy regularization) plus the auxiliary
pitch loss; He-initialized; Adam with betas (0.5, 0.9) for each side (WGAN-GP's). Trained on the train split
of `{data}` (`cadenza data notes`: instruments split by name, so the valid and test instruments are never seen).

- Config: `{config}`
- Training segments (each resumed the one before):
{segments}
- Wall time: {wall:.1f} min in all on {device}

| figure (pitch: one note per pitch, fixed latents, CREPE-tiny; timbre spread: 8 latents at MIDI 48, 60, 72) | value |
|---|---|
{figures}

`python benchmarks/gansynth.py` measures it against real held-out notes (pitch accuracy and entropy, NDB, FAD)
beside the magnitude-only network and real notes (the ceiling).

    cadenza gansynth generate --pitch 60 64 67 -o chord.wav
    cadenza gansynth render song.mid -o song.wav
"""
