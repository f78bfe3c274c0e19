"""A small decoder-only Transformer language model (after nanoGPT's model.py), with a KV cache.

The reference model of the shared training loop and the base that the symbolic LMs build on; their loss,
sliding-window evaluation and cached sampling live in `cadenza.nn.lm`.
Vaswani et al. 2017, https://arxiv.org/abs/1706.03762; Radford et al. 2019 (GPT-2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cadenza.nn.relative import RelativeSelfAttention


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 131
    block_size: int = 256  # longest context in tokens
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0  # note: dropout > 0 leaves PyTorch's fast CPU attention kernel (~9x slower)
    tie_weights: bool = True
    position: str = "absolute"  # "absolute" (learned embeddings) or "relative" (Music Transformer attention)
    period: int = 0  # > 0: a learned embedding of each token's phase in a cycle (e.g. the voice in SATB steps)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, nh, T_past + T, hs)
            v = torch.cat([cache[1], v], dim=2)
        if cache is None:
            drop = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        elif T == 1:  # one new token attends to everything before it: no mask
            y = F.scaled_dot_product_attention(q, k, v)
        else:  # several new tokens after a cached prefix: causal within the new ones
            past = k.size(2) - T
            mask = torch.ones(T, k.size(2), dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn: nn.Module
        if cfg.position == "relative":
            self.attn = RelativeSelfAttention(cfg.n_embd, cfg.n_head, cfg.block_size, cfg.dropout)
        else:
            self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        a, new_cache = self.attn(self.ln1(x), cache)
        x = x + self.drop(a)
        x = x + self.drop(self.mlp(self.ln2(x)))
        return x, new_cache


class GPT(nn.Module):
    """Token embeddings, learned absolute positions or relative attention, pre-norm blocks, a (tied) head.

    With `position="relative"` this is the Music Transformer (Huang et al. 2019): no absolute positions,
    relative attention with skewing in every layer.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        if cfg.position not in ("absolute", "relative"):
            raise ValueError(f"position must be 'absolute' or 'relative', not {cfg.position!r}")
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos = nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.position == "absolute" else None
        self.phase = nn.Embedding(cfg.period, cfg.n_embd) if cfg.period > 0 else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.head.weight = self.tok.weight
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(
        self,
        idx: torch.Tensor,
        caches: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
        phase: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Logits [B, T, vocab] for token ids [B, T]; with `caches`, positions continue after the cached ones.

        `phase` [B, T] (ids in 0..period-1) is required when the model has a period.
        """
        B, T = idx.shape
        past = caches[0][0].size(2) if caches else 0
        if past + T > self.cfg.block_size:
            raise ValueError(f"sequence of {past + T} tokens exceeds the context of {self.cfg.block_size}")
        x = self.tok(idx)  # (B, T, C)
        if self.pos is not None:
            x = x + self.pos(torch.arange(past, past + T, device=idx.device))
        if self.phase is not None:
            if phase is None:
                raise ValueError("this model needs the phase of every token")
            x = x + self.phase(phase)
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, c = block(x, caches[i] if caches else None)
            new_caches.append(c)
        return self.head(self.ln_f(x)), new_caches
