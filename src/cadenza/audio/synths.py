"""Differentiable synthesizers of DDSP (Engel et al. 2020, https://arxiv.org/abs/2001.04643), behind one seam.

A `Synth` turns raw network outputs into musical controls (`get_controls`) and controls into audio
(`get_signal`), as in magenta/ddsp's `processors.py`. Controls are at frame rate `[B, T, ...]`; audio is
`[B, T * hop]`. Everything is differentiable, so a network that drives a synth learns from an audio loss.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class Synth(Protocol):
    def get_controls(self, *raw: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def get_signal(self, **controls: torch.Tensor) -> torch.Tensor: ...


def exp_sigmoid(
    x: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7
) -> torch.Tensor:
    """DDSP's positive nonlinearity: max_value * sigmoid(x) ** log(exponent) + threshold. It reaches down to
    -140 dB smoothly, which a plain sigmoid or softplus would not, so quiet harmonics stay learnable."""
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def upsample_frames(x: torch.Tensor, hop: int) -> torch.Tensor:
    """Controls [B, T, C] -> [B, T * hop, C] by linear interpolation between frame centres."""
    b, t, c = x.shape
    y = F.interpolate(x.transpose(1, 2), size=t * hop, mode="linear", align_corners=False)
    return y.transpose(1, 2)


class HarmonicSynth(nn.Module):
    """Additive synthesis of `n_harmonics` harmonics of f0 with a time-varying amplitude and spectral shape.

    Controls: `amplitude` [B, T, 1] (linear), `harmonic_distribution` [B, T, H] (sums to 1 over the harmonics
    below Nyquist), `f0_hz` [B, T, 1].
    """

    def __init__(self, sample_rate: int, hop: int, n_harmonics: int = 60) -> None:
        super().__init__()
        self.sample_rate, self.hop, self.n_harmonics = sample_rate, hop, n_harmonics

    def get_controls(
        self, amplitude: torch.Tensor, harmonics: torch.Tensor, f0_hz: torch.Tensor
    ) -> dict[str, torch.Tensor]:  # type: ignore[override]
        amp = exp_sigmoid(amplitude)
        dist = exp_sigmoid(harmonics)
        k = torch.arange(1, self.n_harmonics + 1, device=f0_hz.device, dtype=f0_hz.dtype)
        dist = dist * (f0_hz * k < self.sample_rate / 2).to(dist)  # no aliasing: silence harmonics above Nyquist
        dist = dist / dist.sum(-1, keepdim=True).clamp_min(1e-7)
        return {"amplitude": amp, "harmonic_distribution": dist, "f0_hz": f0_hz}

    def get_signal(
        self, amplitude: torch.Tensor, harmonic_distribution: torch.Tensor, f0_hz: torch.Tensor
    ) -> torch.Tensor:  # type: ignore[override]
        """Sum of the harmonics -> audio [B, T * hop].

        The amplitudes are interpolated linearly between frame centres, as `upsample_frames` does, but frame by
        frame as three matrix products over the harmonics, so no [B, N, H] amplitude tensor is ever built, and
        only the harmonics that are ever below Nyquist are computed: for a violin, a third of them.
        """
        b, t, _ = harmonic_distribution.shape
        hop = self.hop
        amps = amplitude * harmonic_distribution  # [B, T, H]
        active = torch.nonzero(amps.detach().amax((0, 1)) > 0)
        n_h = int(active.max()) + 1 if len(active) else 1
        amps = amps[..., :n_h]
        f0 = upsample_frames(f0_hz, hop)  # [B, N, 1]
        phase = 2 * math.pi * torch.cumsum(f0 / self.sample_rate, dim=1)  # [B, N, 1]
        k = torch.arange(1, n_h + 1, device=f0.device, dtype=f0.dtype)
        # the phase is wrapped before it multiplies k, or float32 loses the fine phase after a few seconds
        sines = torch.sin(torch.remainder(phase, 2 * math.pi) * k).reshape(b, t, hop, n_h)  # [B, T, hop, H]
        prev = torch.cat([amps[:, :1], amps[:, :-1]], 1)  # frame t - 1 (the first frame repeats)
        nxt = torch.cat([amps[:, 1:], amps[:, -1:]], 1)  # frame t + 1 (the last frame repeats)
        pos = (torch.arange(hop, device=f0.device, dtype=f0.dtype) + 0.5) / hop - 0.5  # offset from the centre
        w_prev, w_next = (-pos).clamp_min(0), pos.clamp_min(0)
        w_cur = 1 - w_prev - w_next
        y = w_cur * torch.einsum("bthk,btk->bth", sines, amps)
        y = y + w_prev * torch.einsum("bthk,btk->bth", sines, prev) + w_next * torch.einsum("bthk,btk->bth", sines, nxt)
        return y.reshape(b, t * hop)


class FilteredNoise(nn.Module):
    """White noise through a time-varying FIR filter whose magnitude response is `n_bands` linearly spaced
    bands per frame (DDSP's frequency-sampling method: irfft, Hann window, zero-phase to causal). Each frame
    of noise is filtered by its own impulse response of 2 * (n_bands - 1) taps and the frames overlap-add."""

    def __init__(self, hop: int, n_bands: int = 65, initial_bias: float = -5.0) -> None:
        super().__init__()
        self.hop, self.n_bands, self.initial_bias = hop, n_bands, initial_bias

    def get_controls(self, magnitudes: torch.Tensor) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return {"magnitudes": exp_sigmoid(magnitudes + self.initial_bias)}

    def get_signal(self, magnitudes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:  # type: ignore[override]
        b, t, _ = magnitudes.shape
        ir = amplitude_to_impulse_response(magnitudes, 2 * (self.n_bands - 1))  # [B, T, L]
        noise = torch.rand(b, t, self.hop, generator=generator, device=magnitudes.device) * 2 - 1
        from scipy.fft import next_fast_len

        width = self.hop + ir.shape[-1] - 1  # the full linear convolution of one frame
        size = next_fast_len(width, real=True)
        frames = torch.fft.irfft(torch.fft.rfft(noise, size) * torch.fft.rfft(ir, size), size)[..., :width]
        return overlap_add(frames, self.hop)[:, : t * self.hop]


def overlap_add(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """Frames [B, T, W] placed every `hop` samples and summed -> [B, (T - 1) * hop + W]."""
    b, t, w = frames.shape
    n = (t - 1) * hop + w
    out = F.fold(frames.transpose(1, 2), output_size=(1, n), kernel_size=(1, w), stride=(1, hop))
    return out.reshape(b, n)


def amplitude_to_impulse_response(magnitudes: torch.Tensor, size: int) -> torch.Tensor:
    """Magnitude responses [..., n_bands] -> windowed linear-phase impulse responses [..., size]."""
    ir = torch.fft.irfft(torch.complex(magnitudes, torch.zeros_like(magnitudes)))  # zero phase
    n = ir.shape[-1]
    ir = torch.roll(ir, n // 2, -1) * torch.hann_window(n, dtype=ir.dtype, device=ir.device)
    return F.pad(ir, (0, size - n)) if size > n else ir[..., :size]


def fft_convolve(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Linear convolution of the last axis by FFT, cropped to the signal's length (causal)."""
    from scipy.fft import next_fast_len

    n = signal.shape[-1]
    size = next_fast_len(signal.shape[-1] + kernel.shape[-1] - 1, real=True)  # a size with small prime factors
    spec = torch.fft.rfft(signal, size) * torch.fft.rfft(kernel, size)
    return torch.fft.irfft(spec, size)[..., :n]


class Reverb(nn.Module):
    """A learned room: an impulse response of `length_s` seconds, parameterized as noise under a learned
    exponential decay and wet gain (as ddsp_pytorch does), plus the dry path (IR[0] = 1)."""

    t: torch.Tensor

    def __init__(self, sample_rate: int, length_s: float = 1.0) -> None:
        super().__init__()
        n = int(sample_rate * length_s)
        self.sample_rate = sample_rate
        self.noise = nn.Parameter(torch.rand(n) * 2 - 1)
        self.decay = nn.Parameter(torch.tensor(3.0))
        self.wet = nn.Parameter(torch.tensor(-3.0))
        self.register_buffer("t", torch.arange(n, dtype=torch.float32) / sample_rate)

    def impulse_response(self) -> torch.Tensor:
        ir = self.noise * torch.exp(-F.softplus(self.decay) * self.t * 10) * torch.sigmoid(self.wet)
        return torch.cat([ir.new_ones(1), ir[1:]])

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio [B, N] -> [B, N] with the room added."""
        return fft_convolve(audio, self.impulse_response()[None])
