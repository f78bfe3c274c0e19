"""NoiseBandNet (Barahona-Rios & Collins 2024, https://arxiv.org/abs/2307.08007): controllable sound effects
from a fixed bank of noise bands.

A filter bank splits white noise into `n_bands` band-limited noises once (linearly spaced bands at low
frequencies, then logarithmic, as in the paper). A recurrent network maps control curves (loudness and
spectral centroid, or any curves) to one amplitude per band per frame; the amplitudes are interpolated to the
audio rate, multiply the band noises, and the bands are summed. Trained with the multi-resolution STFT loss.

    controls [B, T, C] -> MLP -> GRU -> MLP -> amplitudes [B, T, n_bands] -> sum_k a_k(t) noise_k(t) -> [B, T*hop]

The baseline of the comparison (`DDSPNoise`) is the same network driving DDSP's filtered-noise synth.
Our settings, for this CPU: 16 kHz, 256 bands (the paper uses up to 2,048 at 44.1 kHz), 250 frames per second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.ddsp import mlp
from cadenza.audio.dsp import a_weighted_loudness, hop_length, multiresolution_stft_distance, stft_magnitude
from cadenza.audio.synths import FilteredNoise, exp_sigmoid
from cadenza.core.audio import AudioClip, AudioError
from cadenza.errors import InputError
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.train.loop import TrainConfig

KIND = "noisebandnet"
CONTROL_NAMES = ("loudness", "centroid")


@dataclass(frozen=True)
class NoiseBandConfig:
    sample_rate: int = 16000
    frame_rate: int = 250
    n_bands: int = 256
    band_split_hz: float = 0.0  # 0: where linear and logarithmic band widths meet
    noise_length: int = 1 << 16  # samples of each looped band noise
    hidden: int = 128
    synth: str = "noisebands"  # or "ddsp-noise" (the baseline: DDSP's filtered noise, 65 bands)
    excerpt_s: float = 1.0
    batch_size: int = 8
    seed: int = 0  # of the fixed band noises

    @property
    def hop(self) -> int:
        return hop_length(self.sample_rate, self.frame_rate)


def band_edges(n_bands: int, sample_rate: int, split_hz: float = 0.0, f_min_hz: float = 20.0) -> np.ndarray:
    """n_bands + 1 band edges in Hz: linear from 0 to `split_hz`, logarithmic from there to Nyquist. With
    split_hz = 0 the split is placed where a linear band is as wide as the first logarithmic one."""
    nyq = sample_rate / 2

    def edges_for(split: float) -> tuple[np.ndarray, float]:
        best = None
        for n_lin in range(1, n_bands):
            lin = np.linspace(0, split, n_lin + 1)
            log = np.geomspace(split, nyq, n_bands - n_lin + 1)
            gap = abs((lin[1] - lin[0]) - (log[1] - log[0]))
            if best is None or gap < best[1]:
                best = (np.concatenate([lin, log[1:]]), gap)
        assert best is not None
        return best

    if split_hz:
        return edges_for(split_hz)[0]
    candidates = [edges_for(s) for s in np.geomspace(100, nyq / 4, 24)]
    return min(candidates, key=lambda c: c[1])[0]


def make_noise_bands(cfg: NoiseBandConfig) -> torch.Tensor:
    """The fixed bank [n_bands, noise_length]: white noise band-passed by brick-wall masks with raised-cosine
    edges in the frequency domain, each band normalized to unit RMS. Periodic, so it loops without a click."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.noise_length
    freqs = np.fft.rfftfreq(n, 1 / cfg.sample_rate)
    phases = np.exp(2j * np.pi * rng.uniform(size=(cfg.n_bands, len(freqs))))
    edges = band_edges(cfg.n_bands, cfg.sample_rate, cfg.band_split_hz)
    bands = np.zeros((cfg.n_bands, n), np.float32)
    for k in range(cfg.n_bands):
        lo, hi = edges[k], edges[k + 1]
        width = max(hi - lo, 1e-3)
        soft = 0.15 * width
        mask = np.clip((freqs - (lo - soft)) / (2 * soft), 0, 1) * np.clip(((hi + soft) - freqs) / (2 * soft), 0, 1)
        mask = np.sin(mask * np.pi / 2) ** 2
        y = np.fft.irfft(mask * phases[k], n)
        bands[k] = y / max(float(np.sqrt((y**2).mean())), 1e-9)
    return torch.from_numpy(bands)


class NoiseBandSynth(nn.Module):
    """sum_k a_k(t) noise_k(t), with a_k linear between frame centres (computed frame by frame as two batched
    matrix products, so the [B, N, n_bands] product is never stored)."""

    bands: torch.Tensor

    def __init__(self, cfg: NoiseBandConfig) -> None:
        super().__init__()
        self.hop = cfg.hop
        self.register_buffer("bands", make_noise_bands(cfg), persistent=False)  # rebuilt from the seed

    def get_controls(self, amplitudes: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"amplitudes": exp_sigmoid(amplitudes - 5.0) / 4}

    def get_signal(self, amplitudes: torch.Tensor, offset: int = 0) -> torch.Tensor:
        b, t, k = amplitudes.shape
        n = t * self.hop
        idx = (torch.arange(n) + offset) % self.bands.shape[1]
        noise = self.bands[:, idx].T.reshape(t, self.hop, k)  # [T, hop, K]
        nxt = torch.cat([amplitudes[:, 1:], amplitudes[:, -1:]], 1)  # value at the next frame centre
        alpha = (torch.arange(self.hop, dtype=amplitudes.dtype) / self.hop)[None, None, :]  # [1, 1, hop]
        a = torch.einsum("thk,btk->bth", noise, amplitudes)
        c = torch.einsum("thk,btk->bth", noise, nxt)
        return (a * (1 - alpha) + c * alpha).reshape(b, n)


class NoiseBandNet(Pretrained, nn.Module):
    """Control curves [B, T, C] -> audio [B, T * hop] through noise bands (or DDSP's filtered noise)."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = NoiseBandConfig
    shipped: ClassVar[str | None] = "noisebandnet-wind"
    cfg: NoiseBandConfig
    control_stats: torch.Tensor

    def __init__(self, cfg: NoiseBandConfig, n_controls: int = len(CONTROL_NAMES)) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.in_mlp = mlp(n_controls, h)
        self.gru = nn.GRU(h, h, batch_first=True)
        self.out_mlp = mlp(h + n_controls, h)
        self.synth: NoiseBandSynth | FilteredNoise
        if cfg.synth == "noisebands":
            self.synth = NoiseBandSynth(cfg)
            self.head = nn.Linear(h, cfg.n_bands)
        elif cfg.synth == "ddsp-noise":
            self.synth = FilteredNoise(cfg.hop, 65)
            self.head = nn.Linear(h, 65)
        else:
            raise ValueError(f"unknown synth {cfg.synth!r}")
        self.register_buffer("control_stats", torch.zeros(2, n_controls))  # mean, std of the training controls
        self.control_stats[1] = 1.0

    def synth_controls(self, controls: torch.Tensor, state: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Controls [B, T, C] (and the GRU's state, to go on from) -> (the synth's raw controls [B, T, bands], the
        GRU's state after them)."""
        x = (controls - self.control_stats[0]) / self.control_stats[1]
        h, state = self.gru(self.in_mlp(x), state)
        return self.head(self.out_mlp(torch.cat([h, x], -1))), state

    def forward(self, controls: torch.Tensor, offset: int = 0) -> torch.Tensor:
        raw, _ = self.synth_controls(controls)
        if isinstance(self.synth, NoiseBandSynth):
            return self.synth.get_signal(**self.synth.get_controls(raw), offset=offset)
        g = torch.Generator().manual_seed(offset)
        return self.synth.get_signal(**self.synth.get_controls(raw), generator=g)


# ------------------------------------------------------------------------------------------------ controls


def control_curves(audio: np.ndarray | torch.Tensor, sample_rate: int, frame_rate: int) -> np.ndarray:
    """The paper's two controls per frame: A-weighted loudness (dB) and spectral centroid (log2 of Hz).

    Returns:
        float32 [T, 2] with T = len(audio) // hop.
    """
    x = torch.as_tensor(np.asarray(audio, np.float32))
    loud = a_weighted_loudness(x, sample_rate, frame_rate, n_fft=512)
    hop = hop_length(sample_rate, frame_rate)
    mag = stft_magnitude(x, 512, hop)[..., : loud.shape[-1]]
    freqs = torch.fft.rfftfreq(512, 1 / sample_rate)
    centroid = (mag * freqs[:, None]).sum(-2) / mag.sum(-2).clamp_min(1e-9)
    return torch.stack([loud, torch.log2(centroid.clamp_min(20.0))], -1).numpy().astype(np.float32)


def read_control_csv(path: str | Path, n_frames_per_s: int) -> np.ndarray:
    """A drawn control curve: a CSV of `time_s,loudness,centroid` rows (`cadenza.io.curves`), with loudness in dB
    and centroid in Hz; interpolated to the model's frame rate.

    Raises:
        InputError: not a CSV of numbers with those three columns, fewer than two rows, or a centroid not above 0.
    """
    from cadenza.io.curves import read_curve_csv, resample_curve

    times, values, _ = read_curve_csv(path, ("time_s", "loudness_db", "centroid_hz"))
    if np.any(values[:, 1] <= 0):
        raise InputError(path, "centroids must be positive numbers of Hz")
    values = np.stack([values[:, 0], np.log2(values[:, 1])], -1)
    return resample_curve(times, values, n_frames_per_s)


# ------------------------------------------------------------------------------------------------ training


class ControlBatches:
    """Random excerpts of (controls, audio); the batch of a step depends only on (seed, step, rank)."""

    def __init__(self, clips: list[tuple[np.ndarray, np.ndarray]], cfg: NoiseBandConfig, seed: int = 0,
                 source: str = "dataset") -> None:  # fmt: skip
        self.clips, self.cfg, self.seed = clips, cfg, seed
        self.n_frames = round(cfg.excerpt_s * cfg.frame_rate)
        if all(len(c) <= self.n_frames for c, _ in clips):
            raise InputError(source, f"every clip is shorter than the {cfg.excerpt_s} s training excerpt")

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        usable = [i for i, (c, _) in enumerate(self.clips) if len(c) > self.n_frames]
        ctl, audio = [], []
        for i in rng.choice(usable, self.cfg.batch_size):
            c, a = self.clips[i]
            s = int(rng.integers(0, len(c) - self.n_frames))
            ctl.append(c[s : s + self.n_frames])
            audio.append(a[s * self.cfg.hop : (s + self.n_frames) * self.cfg.hop])
        offset = int(rng.integers(0, self.cfg.noise_length))
        return {"controls": torch.tensor(np.stack(ctl)), "audio": torch.tensor(np.stack(audio)),
                "offset": torch.tensor(offset)}  # fmt: skip


def noiseband_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(batch["controls"], offset=int(batch["offset"]))
    return multiresolution_stft_distance(out, batch["audio"])


def load_texture_clips(folder: str | Path, split: str, cfg: NoiseBandConfig, kind: str | None = None,
                       progress: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """(controls [T, 2], audio [T * hop]) of every clip of a split (optionally of one texture kind)."""
    from cadenza.audio.datasets import read_manifest
    from cadenza.io.audio import read_audio

    entries = [e for e in read_manifest(folder, split) if kind is None or e.get("kind") == kind]
    if not entries:
        raise InputError(folder, f"no {split} clips" + (f" of kind {kind!r}" if kind else ""))
    out = []
    for e in tqdm(entries, desc=f"controls {split}", unit="clip", disable=not progress):
        clip = read_audio(Path(folder) / e["file"], sample_rate=cfg.sample_rate, mono=True)
        ctl = control_curves(clip.samples[0], cfg.sample_rate, cfg.frame_rate)
        out.append((ctl, clip.samples[0, : len(ctl) * cfg.hop]))
    return out


def train_noiseband(
    data_dir: str | Path,
    out_dir: str | Path,
    cfg: NoiseBandConfig,
    tc: TrainConfig,
    *,
    kind: str | None = None,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[NoiseBandNet, dict[str, Any]]:
    """Train on the train split of a texture folder (see `cadenza data textures`), one kind or all."""
    from cadenza.train.loop import train

    train_clips = load_texture_clips(data_dir, "train", cfg, kind, progress)
    valid_clips = load_texture_clips(data_dir, "valid", cfg, kind, progress)
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = NoiseBandNet(cfg)
    ctl = np.concatenate([c for c, _ in train_clips])
    model.control_stats.copy_(torch.tensor(np.stack([ctl.mean(0), ctl.std(0) + 1e-3])))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"valid/mrstft": evaluate_noiseband(m, valid_clips)}

    result = train(model, ControlBatches(train_clips, cfg, tc.seed, str(data_dir)), noiseband_loss, tc, out_dir=out_dir,
                   eval_fn=eval_fn, model_config=asdict(cfg), progress=progress, new_segment=new_segment)  # fmt: skip
    model.eval()
    model.extra = {"segments": result.segments}
    figures = {"valid_mrstft": evaluate_noiseband(model, valid_clips), "train_seconds": round(result.seconds, 1),
               "steps": result.step, "kind": kind or "all"}  # fmt: skip
    return model, figures


@torch.no_grad()
def evaluate_noiseband(model: nn.Module, clips: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean multi-resolution STFT distance between held-out clips and the model driven by their controls."""
    model.eval()
    scores = [float(multiresolution_stft_distance(model(torch.tensor(c)[None])[0], torch.tensor(a)))
              for c, a in clips]  # fmt: skip
    return float(np.mean(scores))


@torch.no_grad()
def generate_from_controls(model: NoiseBandNet, controls: np.ndarray, seed: int = 0) -> AudioClip:
    """Controls [T, 2] -> audio; the seed picks where in the looped band noises the sound starts."""
    if controls.ndim != 2 or controls.shape[1] != model.control_stats.shape[1] or len(controls) < 2:
        raise AudioError(f"controls must be [frames, {model.control_stats.shape[1]}], got {controls.shape}")
    offset = int(np.random.default_rng(seed).integers(0, model.cfg.noise_length))
    y = model(torch.tensor(controls, dtype=torch.float32)[None], offset=offset)[0].numpy()
    peak = float(np.abs(y).max())
    if peak > 0.99:
        y = y * (0.99 / peak)
    return AudioClip(y, model.cfg.sample_rate)


CARD = (
    """# NoiseBandNet {kind} (cadenza)

NoiseBandNet (Barahona-Rios & Collins 2024): {n_bands} fixed noise bands (linear, then logarithmic spacing) at
{sample_rate} Hz; a GRU maps loudness and spectral centroid ({frame_rate} frames/s) to per-band amplitudes.
Synth: `{synth}`. Trained with the multi-resolution STFT loss on the train split of `{data}` ({kind}).

- Config: `{config}`
"""
    + TRAINING_BLOCK
)
