"""Causal self-attention banded to the last `window` steps, with a key/value cache that never holds more.

In each layer a step sees itself and the `window - 1` steps before it, so a stack of L layers hears L x window steps
back and a model plays for any length at a constant cost per step (Synthformer, text-to-music). Positions are rotary
(`cadenza.nn.rotary`), applied once to each step's query and key at its own position; the cache keeps rotated keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cadenza.nn.rotary import rotary

Cache = tuple[torch.Tensor, torch.Tensor]


def band_mask(q_pos: torch.Tensor, k_pos: torch.Tensor, window: int) -> torch.Tensor:
    """[Tq, Tk] True where query i may attend key j: k_j <= q_i and k_j > q_i - window."""
    d = q_pos[:, None] - k_pos[None, :]
    return (d >= 0) & (d < window)


class BandedAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, window: int) -> None:
        super().__init__()
        self.n_head, self.window = n_head, window
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, cache: Cache | None) -> tuple[torch.Tensor, Cache]:
        """x [B, T, C] at positions `pos` [T] (consecutive, after the cached steps) -> output, the new cache."""
        b, t, c = x.shape
        q, k, v = (y.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for y in self.qkv(x).split(c, dim=2))
        q, k = rotary(q, pos), rotary(k, pos)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        k_pos = torch.arange(int(pos[-1]) - k.shape[2] + 1, int(pos[-1]) + 1, device=x.device)
        if t == 1 and k.shape[2] <= self.window:
            y = F.scaled_dot_product_attention(q, k, v)  # one new step sees every cached one: no mask
        else:
            # no attention dropout (it leaves the fast CPU kernel); blocks drop on their residual branches
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=band_mask(pos, k_pos, self.window))
        keep = self.window - 1  # what the next step can still see
        new_cache = (k[:, :, -keep:], v[:, :, -keep:]) if keep > 0 else (k[:, :, :0], v[:, :, :0])
        return self.proj(y.transpose(1, 2).reshape(b, t, c)), new_cache
