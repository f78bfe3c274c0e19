"""Training RAVE (`cadenza.audio.rave`) in the paper's two phases, analysing its latent space, and its card.

- Phase 1 (representation learning), steps [0, phase1_steps): the multi-scale spectral distance between the input
  and its reconstruction from a posterior sample, plus beta x KL(posterior || N(0, I)), beta rising linearly from 0
  over the first `beta_warmup` share of the phase (so the decoder learns before the latent is squeezed).
- Phase 2 (adversarial fine-tuning), from `phase1_steps`: the encoder frozen (its output detached, so it gets no
  gradient and AdamW leaves it alone); the decoder learns from the spectral distance, the hinge adversarial loss
  and feature matching (weight 10, as RAVE) against MelGAN's multi-scale discriminators, which have their own
  optimizer (`ParamGroup("discriminator", "disc.")`). The phase is a function of the step, so a resumed run
  resumes in its phase, and the progress bar names it.

After training, `analyse_latents` runs the PCA of the posterior means over the training audio and stores it in the
model; the card reports how many dimensions each fidelity needs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.codec_train import WaveBatches
from cadenza.audio.discriminators import ScaleDiscriminators, adversarial_terms
from cadenza.audio.dsp import mel_distance, multiscale_spectral_distance, relative_spectral_distance
from cadenza.audio.rave import RAVE, RAVEConfig
from cadenza.errors import InputError
from cadenza.pretrained import TRAINING_BLOCK
from cadenza.train.loop import TrainConfig


@dataclass(frozen=True)
class RAVELossConfig:
    segment_s: float = 1.024  # training excerpt: 32 frames
    batch_size: int = 8
    phase1_steps: int = 6000  # then the adversarial phase, encoder frozen
    beta: float = 0.01  # KL weight after the warm-up (0.1 collapsed the violin latent to one dimension in 5,000 steps)
    beta_warmup: float = 0.5  # share of phase 1 over which beta rises from 0
    feature_weight: float = 10.0
    disc_channels: int = 16
    disc_scales: int = 3  # MelGAN's discriminators at 1, 1/2 and 1/4 of the sample rate
    distance: str = "ddsp"  # "ddsp": multiscale_spectral_distance; "rave": relative_spectral_distance (RAVE's own)

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ValueError(f"unknown distance {self.distance!r} (choose from {', '.join(DISTANCES)})")


DISTANCES = {"ddsp": multiscale_spectral_distance, "rave": relative_spectral_distance}


class RAVETrainer(nn.Module):
    """RAVE and its discriminators, trained together by `rave_loss`; the batch carries the step (the phase)."""

    def __init__(self, cfg: RAVEConfig, loss: RAVELossConfig) -> None:
        super().__init__()
        self.rave = RAVE(cfg)
        self.loss_cfg = loss
        self.disc = ScaleDiscriminators(loss.disc_scales, loss.disc_channels)

    def beta(self, step: int) -> float:
        warm = max(1, round(self.loss_cfg.phase1_steps * self.loss_cfg.beta_warmup))
        return self.loss_cfg.beta * min(1.0, step / warm)

    def forward(self, audio: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        cfg, rave = self.loss_cfg, self.rave
        if step < cfg.phase1_steps:
            recon, kl = rave(audio)
            terms = {"distance": DISTANCES[cfg.distance](recon, audio), "kl": kl}
            terms["loss"] = terms["distance"] + self.beta(step) * kl
            return terms
        with torch.no_grad():  # phase 2: the encoder is frozen
            mean, std = rave.posterior(audio)
            z = mean + std * torch.randn_like(mean)
        recon = rave.synthesis(z)
        if rave.delay:  # a causal model's last `delay` samples would need input past the excerpt
            n = audio.shape[-1] - rave.delay
            recon, audio = recon[..., :n], audio[..., :n]
        terms = {"distance": DISTANCES[cfg.distance](recon, audio)}
        terms.update(adversarial_terms(self.disc, audio, recon, hinge=True))
        terms["loss"] = terms["distance"] + terms["disc"] + terms["adversarial"] + cfg.feature_weight * terms["feature"]
        return terms


def rave_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["audio"], int(batch["step"]))["loss"]


class PhaseBatches:
    """`WaveBatches` that also carry the step, so the loss knows its phase (and a resumed run resumes in it)."""

    def __init__(self, waves: WaveBatches) -> None:
        self.waves = waves

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        return {**self.waves.batch(step, rank, world_size), "step": torch.tensor(step)}


# ------------------------------------------------------------------------------------------------ measure


@torch.no_grad()
def evaluate_rave(model: RAVE, clips: list[np.ndarray], dims: int | None = None) -> dict[str, float]:
    """Spectral and mel distances of resynthesis (posterior means, `dims` PCA dimensions kept) over clips."""
    model.eval()
    spec, mel = [], []
    for x in clips:
        audio = torch.tensor(x, dtype=torch.float32)[None, None]
        y = model.resynthesize(audio, dims=dims)
        spec.append(float(multiscale_spectral_distance(y, audio)))
        mel.append(float(mel_distance(y, audio, model.sample_rate)))
    return {"spectral_distance": float(np.mean(spec)), "mel_distance": float(np.mean(mel))}


@torch.no_grad()
def analyse_latents(model: RAVE, clips: list[np.ndarray], progress: bool = True) -> dict[str, Any]:
    """PCA of the posterior means over `clips`, stored in the model's `latent_*` buffers (RAVE's latent analysis).

    Returns:
        {"explained_variance": share per sorted dimension, "fidelity_dims": {"0.9": k, ...}}.
    """
    model.eval()
    frames = []
    for x in tqdm(clips, desc="latent PCA", unit="clip", disable=not progress):
        mean, _ = model.posterior(model.pad_to_frames(torch.tensor(x, dtype=torch.float32)[None, None]))
        frames.append(mean[0].T)  # [T, D]
    z = torch.cat(frames).double()
    mu = z.mean(0)
    cov = (z - mu).T @ (z - mu) / max(1, len(z) - 1)
    var, vecs = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(var, descending=True)
    var, vecs = var[order].clamp_min(0), vecs[:, order]
    model.latent_mean.copy_(mu.float())
    model.latent_components.copy_(vecs.T.float())
    model.latent_variance.copy_(var.float())
    share = (var / var.sum()).tolist()
    return {
        "explained_variance": [round(v, 4) for v in share],
        "fidelity_dims": {f"{f:g}": model.fidelity_dims(f) for f in (0.8, 0.9, 0.95, 0.99)},
    }


# ------------------------------------------------------------------------------------------------ train


def train_rave(
    data_dir: str | Path | list[str | Path],
    out_dir: str | Path,
    cfg: RAVEConfig,
    loss: RAVELossConfig,
    tc: TrainConfig,
    *,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[RAVE, dict[str, Any]]:
    """Train on dataset folders (`cadenza data render`) or folders of one's own audio (`training_audio`), resuming
    from `out_dir`; then analyse the latent space and measure on the validation clips."""
    from cadenza.train.loop import train

    folders = data_dir if isinstance(data_dir, list) else [data_dir]
    source = ", ".join(map(str, folders))
    n = round(loss.segment_s * cfg.sample_rate / cfg.hop) * cfg.hop
    train_clips, valid = training_audio(folders, cfg.sample_rate)
    valid_clips = [c[: 8 * cfg.sample_rate] for c in valid]
    total_s = sum(len(c) for c in train_clips) / cfg.sample_rate
    if total_s < 10 * n / cfg.sample_rate:
        raise InputError(source, f"{total_s:.1f} s of training audio is too little (give at least "
                                 f"{10 * n / cfg.sample_rate:g} s: ten training excerpts)")  # fmt: skip
    if max((float(np.abs(c).max()) for c in train_clips if len(c)), default=0.0) < 1e-4:
        raise InputError(source, "the training audio is silent")
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = RAVETrainer(cfg, loss)
    batches = PhaseBatches(WaveBatches(train_clips, n, loss.batch_size, tc.seed, source))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        r = evaluate_rave(m.rave, valid_clips[:: max(1, len(valid_clips) // 4)][:4])  # type: ignore[arg-type]
        return {"valid/spectral": r["spectral_distance"], "valid/mel": r["mel_distance"]}

    config = {"rave": asdict(cfg), "loss": asdict(loss)}
    result = train(model, batches, rave_loss, tc, out_dir=out_dir, eval_fn=eval_fn, model_config=config,
                   progress=progress, new_segment=new_segment,
                   describe=lambda step: f"phase {phase_name(step, loss)}")  # fmt: skip
    rave = model.rave.eval()
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step,
                               "phase": phase_name(result.step - 1, loss),
                               "train_minutes_of_audio": round(total_s / 60, 1)}  # fmt: skip
    analysis = analyse_latents(rave, train_clips, progress)
    figures.update({f"dims_at_fidelity_{k}": v for k, v in analysis["fidelity_dims"].items()})
    for label, dims in (("", None), ("_fidelity_0.95", analysis["fidelity_dims"]["0.95"])):
        r = evaluate_rave(rave, valid_clips, dims)
        figures[f"valid_spectral{label}"] = round(r["spectral_distance"], 4)
        figures[f"valid_mel{label}"] = round(r["mel_distance"], 4)
    rave.extra = {"loss": asdict(loss), "segments": result.segments,
                  "latent": {"explained_variance": analysis["explained_variance"]}}  # fmt: skip
    return rave, figures


def training_audio(folders: list[str | Path], sample_rate: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Train and valid clips, mono at `sample_rate`, of dataset folders (`cadenza data render`: their manifest's
    splits) or plain folders of a user's audio (every tenth file held out for validation, at least one; a single
    file: its last tenth). Says how many clips were resampled.

    Raises:
        InputError: a folder without audio, an unreadable file or one with NaN samples (naming it).
    """
    from cadenza.audio.datasets import MANIFEST, read_manifest
    from cadenza.audio.embed import audio_files
    from cadenza.io.audio import read_audio

    train: list[np.ndarray] = []
    valid: list[np.ndarray] = []
    resampled = 0

    def read(path: Path) -> np.ndarray:
        nonlocal resampled
        notes: list[str] = []
        x = read_audio(path, sample_rate=sample_rate, mono=True, notes=notes).samples[0]
        resampled += any(n.startswith("resampled") for n in notes)
        return x

    for folder in map(Path, folders):
        if (folder / MANIFEST).is_file():
            train += [read(folder / e["file"]) for e in read_manifest(folder, "train")]
            valid += [read(folder / e["file"]) for e in read_manifest(folder, "valid")]
            continue
        clips = [read(p) for p in audio_files(folder)]
        if len(clips) == 1:
            cut = int(0.9 * len(clips[0]))
            train.append(clips[0][:cut])
            valid.append(clips[0][cut:])
            continue
        held = {i for i in range(len(clips)) if i % 10 == 9} or {len(clips) - 1}
        train += [c for i, c in enumerate(clips) if i not in held]
        valid += [c for i, c in enumerate(clips) if i in held]
    if resampled:
        print(f"{', '.join(map(str, folders))}: resampled {resampled} clips to {sample_rate} Hz")
    return train, valid


def phase_name(step: int, loss: RAVELossConfig) -> str:
    return "1 (VAE)" if step < loss.phase1_steps else "2 (GAN)"


def describe(cfg: RAVEConfig) -> dict[str, str]:
    """The card's words for the encoder and the decoder a config builds."""
    if cfg.encoder == "mel":
        encoder = (f"a log-mel encoder ({cfg.n_mels} mel bands of a causal {cfg.mel_fft}-point STFT, convolutions over "
                   "its frames)")  # fmt: skip
    else:
        encoder = f"{cfg.n_bands} PQMF bands, a convolutional encoder"
    if cfg.decoder == "spectral":
        decoder = (f"a spectral decoder ({cfg.decoder_layers} causal ConvNeXt blocks predicting "
                   f"{cfg.istft_hops * cfg.hop}-point STFT frames, a causal inverse STFT: Vocos-style)")  # fmt: skip
    else:
        decoder = "a decoder with waveform, loudness and filtered-noise branches over the bands"
    return {"encoder": encoder, "decoder": decoder}


CARD = (
    """# RAVE `{name}` (cadenza)

A realtime variational autoencoder (Caillon & Esling 2021) at {sample_rate} Hz: {encoder} to a
{latent_dim}-dimensional latent ({frame_rate:g} frames/s), {decoder}; {causal}. Trained on {minutes_audio:g} minutes
of the train split of `{data}`: phase 1 (spectral distance + KL, beta warm-up) for {phase1} steps, then phase 2
(encoder frozen, hinge GAN + feature matching against multi-scale discriminators).

- Config: `{config}`
- Losses: `{loss}`
- Latent PCA: {explained}
"""
    + TRAINING_BLOCK
    + """
`valid_spectral` is the multi-scale spectral distance (the training loss) and `valid_mel` DAC's mel distance
between each validation clip and its resynthesis from the posterior means; `_fidelity_0.95` keeps only the PCA
dimensions that hold 95% of the latent variance. `dims_at_fidelity_F` counts those dimensions.

    cadenza rave transfer voice.wav --model {name} -o violin.wav
    cadenza rave export --model {name} -o {name}.ts     # for nn~ or any TorchScript host
"""
)
