"""GANSynth's parts: the IF representation round-trips, the generator and discriminator shapes, one training step
that trains each side by its own terms only, latent interpolation, the pitch range (tiny configs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cadenza.audio.gansynth import GANSynth, GANSynthConfig, GANSynthTrainer, SpectralIF
from cadenza.errors import InputError

TINY = GANSynthConfig(n_fft=64, hop=32, frames=8, channels=(8, 8, 8), latent_dim=4, pitch_low=60, pitch_high=63)


def note(cfg: GANSynthConfig, hz: float = 440.0) -> torch.Tensor:
    t = torch.arange(cfg.n_samples) / cfg.sample_rate
    return (0.5 * torch.sin(2 * np.pi * hz * t) * torch.exp(-t))[None]


def test_linear_if_round_trips_exactly() -> None:
    cfg = GANSynthConfig()
    spec = SpectralIF(cfg)
    x = note(cfg) + 0.01 * torch.randn(1, cfg.n_samples, generator=torch.Generator().manual_seed(0))
    feats = spec(x)
    assert feats.shape == (1, 2, 128, 512) and feats.abs().max() <= 1.0
    y = spec.inverse(feats)
    inner = slice(cfg.n_fft, cfg.n_samples - cfg.n_fft)  # away from the edges' half windows
    assert torch.allclose(y[:, inner], x[:, inner], atol=1e-3)


def test_mel_warp_and_magnitude_only_run() -> None:
    for cfg in (GANSynthConfig(mel=True), GANSynthConfig(if_channel=False)):
        spec = SpectralIF(cfg)
        feats = spec(note(cfg))
        assert feats.shape[1] == (2 if cfg.if_channel else 1)
        y = spec.inverse(feats, griffin_lim_iters=2)
        assert y.shape == (1, cfg.n_samples) and torch.isfinite(y).all()


def test_a_training_step_trains_each_side_by_its_own_terms() -> None:
    torch.manual_seed(0)
    trainer = GANSynthTrainer(TINY)
    feats = SpectralIF(TINY)(torch.randn(4, TINY.n_samples) * 0.1)
    pitch, z = torch.tensor([0, 1, 2, 3]), torch.randn(4, TINY.latent_dim)
    out = trainer(feats, pitch, z)
    out["loss"].backward()
    assert all(p.grad is not None for p in trainer.model.generator.parameters())
    assert all(p.grad is not None for p in trainer.disc.parameters())
    # the generator's adversarial term alone leaves the discriminator untouched
    trainer.zero_grad()
    for p in trainer.disc.parameters():
        p.requires_grad_(False)
    g_c, _ = trainer.disc(trainer.model.generator(z, pitch))
    for p in trainer.disc.parameters():
        p.requires_grad_(True)
    (-g_c.mean()).backward()
    assert all(p.grad is None for p in trainer.disc.parameters())


def test_generate_interpolate_and_pitch_range() -> None:
    torch.manual_seed(0)
    model = GANSynth(TINY).eval()
    y = model.generate([60, 63], seed=0)
    assert y.shape == (2, TINY.n_samples) and np.isfinite(y).all()
    assert np.allclose(model.generate([60], seed=3), model.generate([60], seed=3))
    a, b = model.latents(2, seed=1)
    path = GANSynth.interpolate(a, b, 5)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    with pytest.raises(InputError, match="outside the trained range 60-63"):
        model.generate([70])
    with pytest.raises(ValueError, match="stages make"):
        GANSynthConfig(frames=64)
