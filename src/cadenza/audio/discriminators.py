"""The discriminators of DAC's adversarial training (Kumar et al. 2023), small enough for a CPU:

- `PeriodDiscriminator` / the multi-period discriminator of HiFi-GAN (Kong et al. 2020): the waveform folded
  into a 2-D grid of period p, so each column sees every p-th sample (periodic structure, pitch).
- `BandSTFTDiscriminator` / the multi-band multi-scale STFT discriminator of DAC: 2-D convolutions over the
  complex STFT, run separately on frequency bands, at several FFT sizes.

- `ScaleDiscriminators`: MelGAN's multi-scale discriminators (Kumar et al. 2019), as RAVE uses: strided grouped
  1-d convolutions over the waveform at 1, 1/2, 1/4 ... of the sample rate.

Each returns its feature maps, the last being the logits; `discriminator_loss`, `generator_loss` and
`feature_matching` are the least-squares GAN losses and the L1 feature matching of HiFi-GAN and DAC;
`hinge_discriminator` / `hinge_generator` the hinge losses of MelGAN and RAVE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

Features = list[torch.Tensor]


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: int = 16) -> None:
        super().__init__()
        self.period = period
        widths = [1, channels, 2 * channels, 4 * channels, 4 * channels]
        self.convs = nn.ModuleList(
            [weight_norm(nn.Conv2d(a, b, (5, 1), (3, 1), (2, 0))) for a, b in zip(widths, widths[1:])]
        )
        self.out = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), 1, (1, 0)))

    def forward(self, x: torch.Tensor) -> Features:
        """x [B, 1, N] -> feature maps [B, C, N / p, p]."""
        pad = (-x.shape[-1]) % self.period
        x = F.pad(x, (0, pad), mode="reflect")
        x = x.reshape(x.shape[0], 1, -1, self.period)
        feats = []
        for c in self.convs:
            x = F.leaky_relu(c(x), 0.1)
            feats.append(x)
        feats.append(self.out(x))
        return feats


BANDS = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


class BandSTFTDiscriminator(nn.Module):
    def __init__(self, n_fft: int, channels: int = 16, bands: tuple[tuple[float, float], ...] = BANDS) -> None:
        super().__init__()
        self.n_fft = n_fft
        n_bins = n_fft // 2 + 1
        self.bands = [(int(a * n_bins), int(b * n_bins)) for a, b in bands]

        def stack() -> nn.ModuleList:
            return nn.ModuleList([
                weight_norm(nn.Conv2d(2, channels, (3, 9), 1, (1, 4))),
                weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), (1, 4))),
                weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), (1, 4))),
                weight_norm(nn.Conv2d(channels, channels, (3, 3), 1, (1, 1))),
            ])  # fmt: skip

        self.stacks = nn.ModuleList([stack() for _ in self.bands])
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), 1, (1, 1)))

    def forward(self, x: torch.Tensor) -> Features:
        window = torch.hann_window(self.n_fft, device=x.device)
        spec = torch.stft(x[:, 0], self.n_fft, self.n_fft // 4, window=window, return_complex=True)
        spec = torch.view_as_real(spec).permute(0, 3, 2, 1)  # [B, 2, frames, bins]
        feats, outs = [], []
        for (a, b), convs in zip(self.bands, self.stacks):
            h = spec[..., a:b]
            for c in convs:  # type: ignore[attr-defined]
                h = F.leaky_relu(c(h), 0.1)
                feats.append(h)
            outs.append(h)
        feats.append(self.out(torch.cat(outs, -1)))
        return feats


class Discriminator(nn.Module):
    """All the discriminators: periods (2, 3, 5, 7, 11) and STFT sizes (2048, 1024, 512) scaled to the rate."""

    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), fft_sizes: tuple[int, ...] = (1024, 512, 256),
                 channels: int = 16) -> None:  # fmt: skip
        super().__init__()
        self.discs = nn.ModuleList(
            [PeriodDiscriminator(p, channels) for p in periods]
            + [BandSTFTDiscriminator(n, channels) for n in fft_sizes]
        )

    def forward(self, x: torch.Tensor) -> list[Features]:
        return [d(x) for d in self.discs]


class ScaleDiscriminator(nn.Module):
    """One MelGAN discriminator over a waveform (channels widened by 4 and grouped, strides of 4)."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        c = channels
        widths = [(1, c, 15, 1, 1), (c, 4 * c, 41, 4, 4), (4 * c, 16 * c, 41, 4, 16), (16 * c, 16 * c, 41, 4, 64),
                  (16 * c, 16 * c, 5, 1, 1)]  # fmt: skip
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv1d(a, b, k, s, k // 2, groups=min(g, a))) for a, b, k, s, g in widths
        ])  # fmt: skip
        self.out = weight_norm(nn.Conv1d(16 * c, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> Features:
        """x [B, 1, N] -> feature maps [B, C, ~N / 64]."""
        feats = []
        for c in self.convs:
            x = F.leaky_relu(c(x), 0.2)
            feats.append(x)
        feats.append(self.out(x))
        return feats


class ScaleDiscriminators(nn.Module):
    """MelGAN's multi-scale discriminator: `n_scales` discriminators, each on the waveform averaged down by 2 more."""

    def __init__(self, n_scales: int = 3, channels: int = 16) -> None:
        super().__init__()
        self.discs = nn.ModuleList([ScaleDiscriminator(channels) for _ in range(n_scales)])

    def forward(self, x: torch.Tensor) -> list[Features]:
        out = []
        for i, d in enumerate(self.discs):
            if i:
                x = F.avg_pool1d(x, 4, 2, 1, count_include_pad=False)
            out.append(d(x))
        return out


def adversarial_terms(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor, hinge: bool = False,
                      ) -> dict[str, torch.Tensor]:  # fmt: skip
    """One GAN step's terms, each half getting only its own gradients: "disc" (the discriminators on the real audio
    and the detached fake), "adversarial" and "feature" (the generator's, through frozen discriminator weights).
    Least-squares losses (HiFi-GAN, DAC), or hinge ones (MelGAN, RAVE)."""
    d_real = disc(real)
    d_loss, g_loss = (hinge_discriminator, hinge_generator) if hinge else (discriminator_loss, generator_loss)
    terms = {"disc": d_loss(d_real, disc(fake.detach()))}
    for p in disc.parameters():  # the generator's terms must not train the discriminators
        p.requires_grad_(False)
    d_fake = disc(fake)
    for p in disc.parameters():
        p.requires_grad_(True)
    terms["adversarial"] = g_loss(d_fake)
    terms["feature"] = feature_matching(d_real, d_fake)
    return terms


def hinge_discriminator(real: list[Features], fake: list[Features]) -> torch.Tensor:
    """Hinge: relu(1 - D(real)) + relu(1 + D(fake)), summed over the discriminators (MelGAN, RAVE)."""
    return sum((F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real, fake)), torch.zeros(()))


def hinge_generator(fake: list[Features]) -> torch.Tensor:
    """Hinge, generator side: -D(fake), summed over the discriminators."""
    return sum((-f[-1].mean() for f in fake), torch.zeros(()))


def discriminator_loss(real: list[Features], fake: list[Features]) -> torch.Tensor:
    """Least squares: (D(real) - 1)^2 + D(fake)^2, summed over the discriminators."""
    return sum(((r[-1] - 1).pow(2).mean() + f[-1].pow(2).mean() for r, f in zip(real, fake)), torch.zeros(()))


def generator_loss(fake: list[Features]) -> torch.Tensor:
    """Least squares: (D(fake) - 1)^2, summed over the discriminators."""
    return sum(((f[-1] - 1).pow(2).mean() for f in fake), torch.zeros(()))


def feature_matching(real: list[Features], fake: list[Features]) -> torch.Tensor:
    """Mean L1 distance between the hidden feature maps for real and generated audio (real ones detached)."""
    total = torch.zeros(())
    for r, f in zip(real, fake):
        for a, b in zip(r[:-1], f[:-1]):
            total = total + (a.detach() - b).abs().mean()
    return total
