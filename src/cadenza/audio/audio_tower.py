"""A small convolutional audio encoder over log-mel frames: the audio tower of cadenza's CLAP model and the body of
its sound classifier.

The mel bands are the channels of 1-d convolutions over time (as in TDNN / x-vector encoders and the lighter audio
taggers): a 2-d CNN in the manner of PANNs (Kong et al. 2020, https://arxiv.org/abs/1912.10211) learned no better
here and cost ten times more per step on a 2-core CPU.

    log-mel [B, n_mels, T]  ->  blocks (conv k3, BN, ReLU, twice; average pooling by 2 in time)
                            ->  mean + max over time  ->  linear  ->  [B, width]

Training reads windows of precomputed log-mel frames (`log_mel`, once per clip); a clip longer than a window is
embedded window by window and the windows averaged (`embed_clip`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cadenza.audio.dsp import mel_spectrogram

FLOOR = 1e-5  # added to mel magnitudes before the log


@dataclass(frozen=True)
class AudioTowerConfig:
    sample_rate: int = 16000
    n_mels: int = 64
    n_fft: int = 1024
    hop: int = 160  # 100 frames/s
    window_s: float = 4.0  # training windows; longer clips are embedded window by window
    channels: tuple[int, ...] = (32, 64, 128, 256)
    width: int = 256  # the output embedding

    @property
    def window_frames(self) -> int:
        return round(self.window_s * self.sample_rate / self.hop)


def log_mel(audio: np.ndarray | torch.Tensor, cfg: AudioTowerConfig) -> torch.Tensor:
    """audio [..., samples] -> log10 mel magnitudes [..., n_mels, frames]."""
    x = torch.as_tensor(np.asarray(audio, np.float32) if isinstance(audio, np.ndarray) else audio)
    return torch.log10(mel_spectrogram(x, cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_mels) + FLOOR)


def apply_gain(mel: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """The log-mel of the same audio `gain_db` louder (exact: the floor is taken out and put back)."""
    g = 10 ** (gain_db / 20)
    return torch.log10((10**mel - FLOOR).clamp(min=0) * g + FLOOR)


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool1d(x, 2)


class AudioTower(nn.Module):
    """log-mel [B, n_mels, T] -> embedding [B, width]."""

    def __init__(self, cfg: AudioTowerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.norm = nn.BatchNorm1d(cfg.n_mels)  # per-band normalization of the log-mel input
        chans = (cfg.n_mels, *cfg.channels)
        self.blocks = nn.Sequential(*(ConvBlock(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True)))
        self.out = nn.Linear(2 * cfg.channels[-1], cfg.width)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.norm(mel))  # [B, C, T']
        return F.relu(self.out(torch.cat([x.mean(-1), x.amax(-1)], dim=-1)))


@torch.no_grad()
def embed_clip(tower: nn.Module, audio: np.ndarray, cfg: AudioTowerConfig, head: nn.Module | None = None,
               max_windows: int = 16) -> np.ndarray:  # fmt: skip
    """One vector for a whole mono clip at cfg.sample_rate: the mean of `tower` (then `head`) over up to
    `max_windows` evenly spaced windows; a clip shorter than a window is zero-padded."""
    n = cfg.window_frames * cfg.hop
    x = np.asarray(audio, np.float32)
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    mel = log_mel(x, cfg)  # [n_mels, frames]
    w = cfg.window_frames
    starts = np.unique(np.linspace(0, mel.shape[-1] - w, min(max_windows, max(1, mel.shape[-1] // w))).round())
    batch = torch.stack([mel[:, int(s) : int(s) + w] for s in starts])
    out = tower(batch)
    if head is not None:
        out = head(out)
    return out.mean(0).numpy()
