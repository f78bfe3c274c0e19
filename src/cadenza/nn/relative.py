"""Relative self-attention of the Music Transformer (Huang et al. 2019, https://arxiv.org/abs/1809.04281).

Shaw et al. (2018) add to each attention logit a term q_i . E[j - i] that depends on the distance between
query i and key j. Computed naively this needs a [L, L, D] tensor of gathered embeddings per head. The Music
Transformer's "skewing" gets the same [L, L] logits from Q @ E^T ([L, L], one row per query, one column per
distance) by padding, reshaping and slicing: O(L * D) extra memory instead of O(L^2 * D).

Distances run from -(M - 1) to 0 (causal attention looks back only); row r of E holds distance r - (M - 1),
so the last row is "the same position".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def skew(qe: torch.Tensor) -> torch.Tensor:
    """[..., L, L] logits per (query, distance) -> [..., L, L] logits per (query, key), by the paper's skewing.

    Column c of `qe` is distance c - (L - 1). Output[i, j] = qe[i, j - i + L - 1] for j <= i; entries with
    j > i (future keys) are garbage and must be masked by the caller.
    """
    *lead, L, M = qe.shape
    assert L == M, "skew needs as many distances as positions"
    padded = F.pad(qe, (1, 0))  # [..., L, L + 1]: a dummy column on the left
    return padded.reshape(*lead, L + 1, L)[..., 1:, :]  # drop the first row


def relative_logits_skewed(q: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """Relative logits S[b, h, i, j] = q[b, h, i] . E[h, j - i] for queries and keys at positions 0..L-1.

    Args:
        q: queries [B, H, L, D].
        emb: relative embeddings [H, M, D] with M >= L; row M - 1 is distance 0.
    """
    L = q.size(-2)
    e = emb[:, emb.size(1) - L :]  # the L distances -(L - 1)..0
    return skew(torch.matmul(q, e.transpose(-1, -2)))  # [B, H, L, L]


def relative_logits_naive(q: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """Shaw et al.'s direct computation, gathering an [L, L, D] embedding tensor per head (the reference).

    Entries with j > i are zero.
    """
    L, M = q.size(-2), emb.size(1)
    i = torch.arange(L)[:, None]
    j = torch.arange(L)[None, :]
    dist = (j - i).clamp(max=0) + M - 1  # [L, L] rows of emb
    gathered = emb[:, dist]  # [H, L, L, D]
    out = torch.einsum("bhid,hijd->bhij", q, gathered)
    return out.masked_fill(j > i, 0.0)


def relative_logits_offset(q: torch.Tensor, emb: torch.Tensor, past: int) -> torch.Tensor:
    """Relative logits of T new queries at positions past..past+T-1 against keys 0..past+T-1 (KV-cache decoding).

    Returns [B, H, T, past + T]; entries for future keys are zero and must be masked by the caller.
    """
    T, M = q.size(-2), emb.size(1)
    S = past + T
    if S > M:
        raise ValueError(f"{S} positions exceed the {M} relative distances this layer learned")
    qe = torch.matmul(q, emb.transpose(-1, -2))  # [B, H, T, M]
    i = torch.arange(past, S)[:, None]
    j = torch.arange(S)[None, :]
    idx = ((j - i).clamp(max=0) + M - 1).expand(q.size(0), q.size(1), T, S)
    return torch.gather(qe, -1, idx).masked_fill(j > i, 0.0)


class RelativeSelfAttention(nn.Module):
    """Causal multi-head self-attention with a learned relative-position embedding per head and distance."""

    def __init__(self, n_embd: int, n_head: int, max_distance: int, dropout: float = 0.0) -> None:
        super().__init__()
        assert n_embd % n_head == 0
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.rel = nn.Parameter(torch.randn(n_head, max_distance, n_embd // n_head) * 0.02)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        past = 0
        if cache is not None:
            past = cache[0].size(2)
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        S, M = k.size(2), self.rel.size(1)
        if S > M:
            raise ValueError(f"{S} positions exceed the {M} relative distances of this model")
        # training and prompts: skewing; decoding after a cache: gather the rows of the new queries
        rel = relative_logits_skewed(q, self.rel) if past == 0 else relative_logits_offset(q, self.rel, past)
        causal = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=past)
        # SDPA scales q.k by 1/sqrt(hs); the relative term gets the same scale, as in the paper.
        bias = (rel * hs**-0.5).masked_fill(~causal, float("-inf"))
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y), (k, v)
