"""Training, saving and measuring the codec (`cadenza.audio.codec`), and its codes files.

Training follows DAC: the multi-scale mel distance (weight 15), the codebook (1) and commitment (0.25) losses
and, with `adversarial=True`, the least-squares GAN loss (1) and feature matching (2) against the
multi-period and multi-band STFT discriminators. The generator and the discriminators live in one module
(`CodecGAN`) so the shared training loop, its checkpoints and its resume serve both: in one step the
discriminators learn from the detached reconstruction while the generator's adversarial terms see frozen
discriminator weights, so each half only gets its own gradients.

Codes files are `.npz` (never pickle): `codes` [K, T] int16, and the `sample_rate`, `n_samples`, `hop`,
`n_codebooks`, `cardinality` and `model_id` they need to be decoded by the right model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.codec import Codec, CodecConfig, model_id
from cadenza.audio.discriminators import Discriminator, discriminator_loss, feature_matching, generator_loss
from cadenza.audio.dsp import mel_distance, multiscale_spectral_distance, si_sdr
from cadenza.core.audio import AudioClip
from cadenza.errors import InputError
from cadenza.pretrained import TRAINING_BLOCK
from cadenza.train.loop import TrainConfig

CODES_FORMAT = 1


@dataclass(frozen=True)
class CodecLossConfig:
    segment_s: float = 0.64  # training excerpt (a whole number of frames at 50 Hz)
    batch_size: int = 8
    mel_weight: float = 15.0
    codebook_weight: float = 1.0
    commitment_weight: float = 0.25
    adversarial: bool = False
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0
    disc_channels: int = 16


class CodecGAN(nn.Module):
    """The codec and (for adversarial training) its discriminators, trained together by `codec_loss`."""

    def __init__(self, cfg: CodecConfig, loss: CodecLossConfig) -> None:
        super().__init__()
        self.codec = Codec(cfg)
        self.loss_cfg = loss
        self.disc = Discriminator(channels=loss.disc_channels) if loss.adversarial else None

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.loss_cfg
        recon, q = self.codec(audio)
        sr = self.codec.sample_rate
        terms = {"mel": mel_distance(recon, audio, sr), "codebook": q.codebook_loss, "commitment": q.commitment_loss}
        total = cfg.mel_weight * terms["mel"] + cfg.codebook_weight * q.codebook_loss
        total = total + cfg.commitment_weight * q.commitment_loss
        if self.disc is not None:
            d_real = self.disc(audio)
            terms["disc"] = discriminator_loss(d_real, self.disc(recon.detach()))
            for p in self.disc.parameters():  # the generator's terms must not train the discriminator
                p.requires_grad_(False)
            d_fake = self.disc(recon)
            for p in self.disc.parameters():
                p.requires_grad_(True)
            terms["adversarial"] = generator_loss(d_fake)
            terms["feature"] = feature_matching(d_real, d_fake)
            total = total + terms["disc"] + cfg.adversarial_weight * terms["adversarial"]
            total = total + cfg.feature_weight * terms["feature"]
        terms["loss"] = total
        return terms


def codec_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["audio"])["loss"]


# ------------------------------------------------------------------------------------------------ data


def load_dataset_audio(folder: str | Path, split: str, sample_rate: int, progress: bool = True) -> list[np.ndarray]:
    """Every clip of one split of a dataset folder, mono at `sample_rate`."""
    from cadenza.audio.datasets import read_manifest
    from cadenza.io.audio import read_audio

    entries = read_manifest(folder, split)
    if not entries:
        raise InputError(folder, f"the dataset has no {split} clips")
    return [read_audio(Path(folder) / e["file"], sample_rate=sample_rate, mono=True).samples[0]
            for e in tqdm(entries, desc=f"audio {split}", unit="clip", disable=not progress)]  # fmt: skip


class WaveBatches:
    """Random excerpts with a random gain of -12..0 dB; the batch of a step depends only on (seed, step, rank)."""

    def __init__(self, clips: list[np.ndarray], n_samples: int, batch_size: int, seed: int = 0,
                 source: str = "dataset") -> None:  # fmt: skip
        self.clips = [c for c in clips if len(c) > n_samples]
        if not self.clips:
            raise InputError(source, f"every clip is shorter than the {n_samples}-sample training excerpt")
        lengths = np.array([len(c) - n_samples for c in self.clips], float)
        self.weights = lengths / lengths.sum()
        self.n_samples, self.batch_size, self.seed = n_samples, batch_size, seed

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        out = []
        for i in rng.choice(len(self.clips), self.batch_size, p=self.weights):
            s = int(rng.integers(0, len(self.clips[i]) - self.n_samples))
            gain = 10 ** (rng.uniform(-12, 0) / 20)
            x = self.clips[i][s : s + self.n_samples]
            peak = float(np.abs(x).max()) or 1.0
            out.append(x * min(gain, 0.99 / peak))
        return {"audio": torch.tensor(np.stack(out), dtype=torch.float32)[:, None]}


# ------------------------------------------------------------------------------------------------ measure


@torch.no_grad()
def evaluate_codec(codec: Codec, clips: list[np.ndarray], n_codebooks: int | None = None) -> dict[str, float]:
    """Mel distance (DAC's), multi-scale STFT distance and SI-SDR of decode(encode(x)) over clips, averaged."""
    codec.eval()
    device = next(codec.parameters()).device
    mel, stft, sdr = [], [], []
    for x in clips:
        audio = torch.tensor(x, dtype=torch.float32, device=device)[None, None]
        y = codec.decode_chunked(codec.encode_chunked(audio, n_codebooks))[..., : audio.shape[-1]]
        mel.append(float(mel_distance(y, audio, codec.sample_rate)))
        stft.append(float(multiscale_spectral_distance(y[0, 0], audio[0, 0])))
        sdr.append(float(si_sdr(y[0, 0], audio[0, 0])))
    return {
        "mel_distance": float(np.mean(mel)),
        "stft_distance": float(np.mean(stft)),
        "si_sdr_db": float(np.mean(sdr)),
    }


@torch.no_grad()
def codebook_usage(codec: Codec, clips: list[np.ndarray]) -> list[float]:
    """Entropy of each codebook's code histogram over the clips, as a share of log2(cardinality) (1 = uniform)."""
    counts = np.zeros((codec.n_codebooks, codec.cardinality))
    for x in clips:
        audio = torch.tensor(x, dtype=torch.float32, device=next(codec.parameters()).device)[None, None]
        codes = codec.encode_chunked(audio)[0].cpu().numpy()
        for k in range(codec.n_codebooks):
            counts[k] += np.bincount(codes[k], minlength=codec.cardinality)
    p = counts / counts.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    return [round(float(v / np.log2(codec.cardinality)), 4) for v in h]


# ------------------------------------------------------------------------------------------------ train, save


def train_codec(
    data_dir: str | Path,
    out_dir: str | Path,
    cfg: CodecConfig,
    loss: CodecLossConfig,
    tc: TrainConfig,
    *,
    init_from: str | Path | None = None,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[Codec, dict[str, Any]]:
    """Train on the train split of a dataset folder; resumes from `out_dir`. `init_from`: a saved codec whose
    weights start this run (e.g. the mel-only phase before the adversarial one)."""
    from cadenza.train.loop import train

    train_clips = load_dataset_audio(data_dir, "train", cfg.sample_rate, progress)
    valid_clips = [c[: 5 * cfg.sample_rate] for c in load_dataset_audio(data_dir, "valid", cfg.sample_rate, progress)]
    model = CodecGAN(cfg, loss)
    if init_from is not None:
        model.codec.load_state_dict(Codec.from_pretrained(init_from).state_dict())
    n = round(loss.segment_s * cfg.sample_rate / cfg.hop) * cfg.hop
    batches = WaveBatches(train_clips, n, loss.batch_size, tc.seed, str(data_dir))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        r = evaluate_codec(m.codec, valid_clips[:6])  # type: ignore[arg-type]
        return {"valid/mel": r["mel_distance"], "valid/si_sdr": r["si_sdr_db"]}

    config = {"codec": asdict(cfg), "loss": asdict(loss)}
    result = train(model, batches, codec_loss, tc, out_dir=out_dir, eval_fn=eval_fn, model_config=config,
                   progress=progress, new_segment=new_segment)  # fmt: skip
    codec = model.codec.eval()
    codec.extra = {"loss": asdict(loss), "segments": result.segments}
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step}
    for kbps in (1.5, 3.0, 6.0):
        k = cfg.codebooks_for(kbps)
        r = evaluate_codec(codec, valid_clips, k)
        figures[f"valid_mel_{kbps:g}kbps"] = round(r["mel_distance"], 4)
        figures[f"valid_si_sdr_{kbps:g}kbps"] = round(r["si_sdr_db"], 2)
    figures["codebook_usage"] = codebook_usage(codec, valid_clips)
    return codec, figures


CARD = (
    """# Neural audio codec `{name}` (cadenza)

{what} at {sample_rate} Hz: {n_bands} PQMF bands, a convolutional encoder / decoder with Snake activations and
dilated residual units (strides {strides}, {frame_rate:g} frames/s), {n_codebooks} codebooks of {cardinality}
codes ({lookup}), quantizer dropout {dropout}: one model for
{kbps_low:g} to {kbps_high:g} kbps ({kbps_step:g} kbps per codebook). Trained on the train split of `{data}`.

- Config: `{config}`
- Losses: `{loss}`
"""
    + TRAINING_BLOCK
    + """
`mel` is DAC's multi-scale mel distance (lower is better), `si_sdr` the scale-invariant SDR in dB;
`codebook_usage` is each codebook's code entropy as a share of log2({cardinality}) (1 = every code equally used).

    cadenza codec encode in.wav --kbps 3 -o in.npz && cadenza codec decode in.npz -o out.wav
"""
)


def lookup_text(cfg: CodecConfig) -> str:
    if cfg.factorized:
        return f"{cfg.codebook_dim}-d factorized L2-normalized lookups, as DAC"
    learned = "moving-average (k-means) codebooks, as EnCodec" if cfg.ema else "codebook loss"
    return f"Euclidean lookups in the {cfg.latent_dim}-d latent, {learned}"


# ------------------------------------------------------------------------------------------------ codes files


def write_codes(path: str | Path, codes: torch.Tensor, codec: Codec, n_samples: int) -> Path:
    """Codes [1, K, T] of one mono clip -> an .npz file, atomically."""
    from cadenza.io.files import atomic_path

    cfg = codec.cfg
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, codes=codes[0].numpy().astype(np.int16), sample_rate=cfg.sample_rate, n_samples=n_samples,
                 hop=cfg.hop, n_codebooks=codes.shape[1], cardinality=cfg.cardinality,
                 model_id=model_id(codec), format_version=CODES_FORMAT, kbps=cfg.kbps(codes.shape[1]))  # fmt: skip
    return Path(path)


def read_codes(path: str | Path, codec: Codec) -> tuple[torch.Tensor, int]:
    """An .npz codes file -> (codes [1, K, T], n_samples), checked against `codec`.

    Raises:
        InputError: not a codes file, corrupt, or made by a model with other codebooks or cardinality.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile, ValueError, OSError: all mean a corrupt file
        raise InputError(p, f"not a codes file ({type(e).__name__})") from None
    needed = {"codes", "sample_rate", "n_samples", "n_codebooks", "cardinality", "model_id"}
    if not needed <= set(data):
        raise InputError(p, f"not a cadenza codes file (missing {', '.join(sorted(needed - set(data)))})")
    codes = data["codes"]
    cfg = codec.cfg
    if codes.ndim != 2 or codes.shape[0] != int(data["n_codebooks"]):
        raise InputError(p, f"corrupt codes array of shape {codes.shape}")
    if int(data["cardinality"]) != cfg.cardinality or codes.shape[0] > cfg.n_codebooks:
        raise InputError(p, f"codes from another model ({codes.shape[0]} codebooks of {int(data['cardinality'])}; "
                            f"this one has {cfg.n_codebooks} of {cfg.cardinality})")  # fmt: skip
    if str(data["model_id"]) != model_id(codec):
        raise InputError(p, f"codes from another model (id {data['model_id']}, this model is {model_id(codec)})")
    if codes.min() < 0 or codes.max() >= cfg.cardinality:
        raise InputError(p, "corrupt codes: values outside the codebook")
    return torch.tensor(codes.astype(np.int64))[None], int(data["n_samples"])


def codec_round_trip(codec: Codec, clip: AudioClip, kbps: float | None = None) -> AudioClip:
    """encode + decode a mono clip at `kbps` (all codebooks by default), chunked."""
    k = codec.cfg.codebooks_for(kbps) if kbps else None
    audio = torch.tensor(clip.mono().samples)[None]
    y = codec.decode_chunked(codec.encode_chunked(audio, k))[0, :, : clip.n_samples]
    return AudioClip(y.numpy(), codec.sample_rate)


@torch.no_grad()
def morph(codec: Codec, a: AudioClip, b: AudioClip, steps: int, space: str = "latent") -> list[AudioClip]:
    """`steps` clips going from a to b (cropped to the shorter), as in the course's DAC morphing notebooks.

    Args:
        space: "latent" interpolates the encoder's continuous latents and quantizes each mix with every
            codebook; "codes" interpolates the quantized latents (the sums of the chosen code vectors) and
            decodes them without quantizing again.
    """
    if steps < 2:
        raise ValueError("a morph needs at least 2 steps")
    hop = codec.cfg.hop
    n = min(a.n_samples, b.n_samples) // hop * hop
    if n == 0:
        raise ValueError("clips shorter than one codec frame")
    xa = torch.tensor(a.mono().samples[:, :n])[None]
    xb = torch.tensor(b.mono().samples[:, :n])[None]
    za, zb = codec.analysis(xa), codec.analysis(xb)
    if space == "codes":
        za, zb = codec.quantizer(za).z_q, codec.quantizer(zb).z_q
    elif space != "latent":
        raise ValueError(f"unknown morph space {space!r} (latent or codes)")
    out = []
    for alpha in np.linspace(0, 1, steps):
        z = (1 - alpha) * za + alpha * zb
        if space == "latent":
            z = codec.quantizer(z).z_q
        out.append(AudioClip(codec.synthesis(z)[0].numpy(), codec.sample_rate))
    return out
