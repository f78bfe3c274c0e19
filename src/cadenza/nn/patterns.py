"""Codebook patterns: how the K parallel streams of codec codes [B, K, T] become the steps of a token model
(after audiocraft's `CodebooksPatternProvider`, Copet et al. 2023, https://arxiv.org/abs/2306.05284).

| pattern | steps for T frames | one step holds | what a step can see of its own frame |
|---|---|---|---|
| `parallel` (stacked) | T | the K codes of frame t | nothing: the K codes are predicted independently |
| `delay` | T + K - 1 | codebook k of frame t - k | the coarser codebooks of the same frame (one step earlier) |
| `flattened` | T * K | one code: frame t // K, codebook t % K | every coarser codebook of the frame |

`build(codes)` lays codes out as steps [B, K, S] (`flattened`: [B, 1, T * K]) with `pad` where a codebook has no
code at a step; `revert(steps, n_frames)` takes them back to [B, K, T]. The delay pattern is MusicGen's: it costs
K - 1 steps more than stacking and lets codebook k condition on the coarser codebooks of its frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PATTERNS = ("parallel", "delay", "flattened")


@dataclass(frozen=True)
class Pattern:
    name: str
    n_codebooks: int

    def __post_init__(self) -> None:
        if self.name not in PATTERNS:
            raise ValueError(f"unknown codebook pattern {self.name!r} ({', '.join(PATTERNS)})")
        if self.n_codebooks < 1:
            raise ValueError("a pattern needs at least one codebook")

    @property
    def streams(self) -> int:
        """Tokens per step: K for parallel and delay, 1 for flattened."""
        return 1 if self.name == "flattened" else self.n_codebooks

    def n_steps(self, n_frames: int) -> int:
        k = self.n_codebooks
        return {"parallel": n_frames, "delay": n_frames + k - 1, "flattened": n_frames * k}[self.name]

    def build(self, codes: torch.Tensor, pad: int) -> torch.Tensor:
        """Codes [B, K, T] -> steps [B, streams, n_steps(T)], `pad` where a stream has no code."""
        b, k, t = codes.shape
        if k != self.n_codebooks:
            raise ValueError(f"the pattern has {self.n_codebooks} codebooks, the codes {k}")
        if self.name == "parallel":
            return codes
        if self.name == "flattened":
            return codes.transpose(1, 2).reshape(b, 1, t * k)
        out = codes.new_full((b, k, t + k - 1), pad)
        for i in range(k):
            out[:, i, i : i + t] = codes[:, i]
        return out

    def revert(self, steps: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Steps [B, streams, S] -> codes [B, K, n_frames] (the first n_frames whole frames the steps hold)."""
        b, k = steps.shape[0], self.n_codebooks
        if self.name == "parallel":
            return steps[..., :n_frames]
        if self.name == "flattened":
            return steps[:, 0, : n_frames * k].reshape(b, n_frames, k).transpose(1, 2)
        return torch.stack([steps[:, i, i : i + n_frames] for i in range(k)], dim=1)

    def valid(self, step: int, n_frames: int | None = None) -> torch.Tensor:
        """Which streams hold a code at `step` [streams] (bool): in the delay pattern codebook k starts at step k
        (and, given `n_frames`, ends at step n_frames - 1 + k)."""
        if self.name != "delay":
            return torch.ones(self.streams, dtype=torch.bool)
        k = torch.arange(self.n_codebooks)
        ok = step >= k
        if n_frames is not None:
            ok &= step - k < n_frames
        return ok

    def frame_of(self, step: int) -> int:
        """The frame whose conditioning a step reads: the frame of its first stream (codebook 0)."""
        return step // self.n_codebooks if self.name == "flattened" else step
