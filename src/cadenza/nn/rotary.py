"""Rotary position embedding (Su et al. 2021, RoFormer, https://arxiv.org/abs/2104.09864): queries and keys are
rotated by an angle proportional to their position, so that their dot product depends on the distance alone.
Applied once per attention layer to queries and keys (never to values, never twice)."""

from __future__ import annotations

import torch


def rotary(x: torch.Tensor, pos: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate pairs of channels (first half with second half) of x [B, H, T, D] by angles pos * base^(-2i/D)."""
    d = x.shape[-1] // 2
    inv = base ** (-torch.arange(d, dtype=torch.float32, device=x.device) / d)
    ang = pos.to(torch.float32)[:, None] * inv[None]  # [T, d]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., :d], x[..., d:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
