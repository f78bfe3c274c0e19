"""Deterministic batch sources for the training loop (the batch of a step depends on the step alone)."""

from __future__ import annotations

import torch


def _generator(seed: int, step: int, rank: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + step * 8191 + rank)
    return g


class RandomWindows:
    """nanoGPT-style batches: random windows of `block_size + 1` tokens from one long token stream.

    batch["x"] is [B, T], batch["y"] is x shifted left by one token.
    """

    def __init__(self, tokens: torch.Tensor, block_size: int, batch_size: int, seed: int = 0) -> None:
        if tokens.numel() <= block_size + 1:
            raise ValueError(f"token stream of {tokens.numel()} is too short for windows of {block_size + 1}")
        self.tokens, self.block_size, self.batch_size, self.seed = tokens.long(), block_size, batch_size, seed

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        g = _generator(self.seed, step, rank)
        starts = torch.randint(0, self.tokens.numel() - self.block_size - 1, (self.batch_size,), generator=g)
        idx = starts[:, None] + torch.arange(self.block_size + 1)
        win = self.tokens[idx]
        return {"x": win[:, :-1], "y": win[:, 1:]}


class ShuffledEpochs:
    """Batches of rows of fixed-size tensors, each epoch a fresh permutation; ranks take disjoint slices."""

    def __init__(self, tensors: dict[str, torch.Tensor], batch_size: int, seed: int = 0) -> None:
        sizes = {len(t) for t in tensors.values()}
        if len(sizes) != 1:
            raise ValueError("all tensors need the same number of rows")
        self.tensors, self.batch_size, self.seed = tensors, batch_size, seed
        self.n = sizes.pop()

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        per_epoch = max(1, self.n // (self.batch_size * world_size))
        epoch, k = divmod(step, per_epoch)
        perm = torch.randperm(self.n, generator=_generator(self.seed, epoch, 0))
        start = (k * world_size + rank) * self.batch_size
        idx = perm[start : start + self.batch_size]
        return {name: t[idx] for name, t in self.tensors.items()}
