"""A prior over RAVE's latent frames, so that a RAVE plays with no input (as RAVE 2's prior and msprior,
Caillon 2022): an autoregressive GRU over the first `dims` PCA dimensions of the latent.

Each dimension is quantized into `n_bins` equal-mass bins (the quantiles of the training latents), and the GRU
predicts, from the frames before, one categorical distribution per dimension for the next frame (the dimensions of
a frame are independent given the past; the PCA basis makes them uncorrelated). Sampling draws every dimension's
bin at a temperature and plays its centre; the RAVE decoder turns the frames into audio.

    frames z[0..t-1] [B, t, dims] -> GRU -> logits [B, t, dims, n_bins] for z[t]

The prior lives in its RAVE's folder (`MODEL/prior/`): `cadenza rave prior` trains it, `cadenza rave generate` plays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.rave import RAVE
from cadenza.errors import InputError
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.train.loop import TrainConfig


@dataclass(frozen=True)
class PriorConfig:
    dims: int = 8  # PCA dimensions modelled (the rest are played at their mean, zero)
    n_bins: int = 64  # equal-mass bins per dimension
    hidden: int = 256
    n_layers: int = 2
    context_frames: int = 64  # training windows: 64 frames (2 s at 31.25 frames/s)
    batch_size: int = 16


class RAVEPrior(Pretrained, nn.Module):
    """The GRU prior; `centers` [dims, n_bins] are the bins' centres in the PCA latent space."""

    kind: ClassVar[str] = "rave-prior"
    config_cls: ClassVar[type] = PriorConfig
    cfg: PriorConfig
    centers: torch.Tensor

    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("centers", torch.linspace(-2, 2, cfg.n_bins).repeat(cfg.dims, 1))
        self.embed = nn.Linear(cfg.dims, cfg.hidden)
        self.gru = nn.GRU(cfg.hidden, cfg.hidden, cfg.n_layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, cfg.dims * cfg.n_bins)

    def set_bins(self, z: torch.Tensor) -> None:
        """Equal-mass bins from training latents [N, dims]: the centres are the quantiles (i + 0.5) / n_bins."""
        q = (torch.arange(self.cfg.n_bins, dtype=torch.float64) + 0.5) / self.cfg.n_bins
        self.centers.copy_(torch.quantile(z.double(), q, dim=0).T.float())

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [B, T, dims] -> bin indices [B, T, dims] (the nearest centre)."""
        return (z[..., None] - self.centers).abs().argmin(-1)

    def _normalize(self, z: torch.Tensor) -> torch.Tensor:
        spread = (self.centers[:, -1] - self.centers[:, 0]).clamp_min(1e-6)
        return (z - self.centers.mean(1)) / spread

    def logits(self, z: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames [B, T, dims] -> (logits [B, T, dims, n_bins] of each next frame, the GRU state)."""
        h, state = self.gru(self.embed(self._normalize(z)), state)
        return self.head(h).reshape(*z.shape[:2], self.cfg.dims, self.cfg.n_bins), state

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (nats per dimension) of frames [B, T, dims], each predicted from the ones before (the first
        from a frame of zeros, the latent mean)."""
        inputs = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], 1)
        logits, _ = self.logits(inputs)
        return F.cross_entropy(logits.reshape(-1, self.cfg.n_bins), self.quantize(z).reshape(-1))

    @torch.no_grad()
    def generate(self, n_frames: int, *, temperature: float = 1.0, seed: int = 0,
                 progress: bool = False) -> torch.Tensor:  # fmt: skip
        """Latent frames [1, dims, n_frames] (PCA basis) sampled one after another."""
        g = torch.Generator().manual_seed(seed)
        frame = torch.zeros(1, 1, self.cfg.dims)
        state: torch.Tensor | None = None
        out = []
        for _ in tqdm(range(n_frames), desc="prior", unit="frame", disable=not progress):
            logits, state = self.logits(frame, state)
            probs = torch.softmax(logits[0, 0] / max(temperature, 1e-4), -1)  # [dims, n_bins]
            idx = torch.multinomial(probs, 1, generator=g)[:, 0]
            frame = self.centers.gather(1, idx[:, None])[:, 0][None, None]
            out.append(frame[0, 0])
        return torch.stack(out, -1)[None]


class LatentWindows:
    """Random windows of encoded latents [dims, T]; the batch of a step depends only on (seed, step, rank)."""

    def __init__(self, latents: list[torch.Tensor], frames: int, batch_size: int, seed: int = 0) -> None:
        self.latents = [z for z in latents if z.shape[-1] > frames]
        if not self.latents:
            raise InputError("prior data", f"every clip is shorter than the {frames}-frame training window")
        lengths = np.array([z.shape[-1] - frames for z in self.latents], float)
        self.weights = lengths / lengths.sum()
        self.frames, self.batch_size, self.seed = frames, batch_size, seed

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        out = []
        for i in rng.choice(len(self.latents), self.batch_size, p=self.weights):
            s = int(rng.integers(0, self.latents[i].shape[-1] - self.frames))
            out.append(self.latents[i][:, s : s + self.frames].T)
        return {"z": torch.stack(out)}


def prior_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["z"])


@torch.no_grad()
def encode_clips(rave: RAVE, clips: list[np.ndarray], dims: int, progress: bool = True) -> list[torch.Tensor]:
    """Each clip's latents [dims, T] in the PCA basis."""
    rave.eval()
    return [rave.encode(torch.tensor(x, dtype=torch.float32)[None, None])[0, :dims]
            for x in tqdm(clips, desc="encode", unit="clip", disable=not progress)]  # fmt: skip


def train_prior(
    rave: RAVE,
    data_dir: str | Path | list[str | Path],
    out_dir: str | Path,
    cfg: PriorConfig,
    tc: TrainConfig,
    *,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[RAVEPrior, dict[str, Any]]:
    """Train a prior over `rave`'s latents of the train split of dataset folders; valid cross-entropy measured."""
    from cadenza.audio.rave_train import training_audio
    from cadenza.train.loop import train

    if cfg.dims > rave.cfg.latent_dim:
        raise InputError("--dims", f"the model's latent has {rave.cfg.latent_dim} dimensions, not {cfg.dims}")
    folders = data_dir if isinstance(data_dir, list) else [data_dir]
    train_audio, valid_audio = training_audio(folders, rave.sample_rate)
    train_z = encode_clips(rave, train_audio, cfg.dims, progress)
    valid_z = encode_clips(rave, valid_audio, cfg.dims, progress)
    model = RAVEPrior(cfg)
    model.set_bins(torch.cat([z.T for z in train_z]))
    batches = LatentWindows(train_z, cfg.context_frames, cfg.batch_size, tc.seed)
    valid = [z.T[None] for z in valid_z]

    def eval_fn(m: nn.Module) -> dict[str, float]:
        m.eval()
        with torch.no_grad():
            return {"valid/nll": float(np.mean([float(m(z)) for z in valid]))}

    result = train(model, batches, prior_loss, tc, out_dir=out_dir, eval_fn=eval_fn,
                   model_config={"prior": asdict(cfg)}, progress=progress, new_segment=new_segment)  # fmt: skip
    model.eval()
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step,
                               "valid_nll_nats_per_dim": round(eval_fn(model)["valid/nll"], 4),
                               "uniform_nll_nats_per_dim": round(float(np.log(cfg.n_bins)), 4)}  # fmt: skip
    model.extra = {"segments": result.segments}
    return model, figures


PRIOR_CARD = (
    """# RAVE prior `{name}` (cadenza)

An autoregressive GRU ({n_layers} x {hidden}) over the first {dims} PCA dimensions of the latent of the RAVE in the
folder above, each quantized into {n_bins} equal-mass bins; trained on that model's latents of `{data}`.

- Config: `{config}`
"""
    + TRAINING_BLOCK
    + """
`valid_nll_nats_per_dim` is the cross-entropy of the validation latents, per dimension and frame (a uniform guess
scores `uniform_nll_nats_per_dim`).

    cadenza rave generate --seconds 30 -o prior.wav
"""
)
