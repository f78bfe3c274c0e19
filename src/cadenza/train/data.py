"""Deterministic batch sources for the training loop: the batch of a step depends on (seed, step, rank) alone,
so a run killed and resumed sees the batches an unbroken run sees.

- `batch_generator(seed, step, rank)`: the torch generator every batch source draws from.
- `Windows`: random windows over one token stream (every language model of cadenza: the JSB and REMI
  Transformers, the LSTMs, the ABC LM), with aligned side streams (a voice phase) and random transposition.
- `Transposer`: shifts the pitch tokens of any vocabulary whose pitch ids are contiguous.
- `ShuffledEpochs`: rows of fixed-size tensors, a fresh permutation per epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def batch_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """A torch generator seeded by (seed, step, rank): what a batch source draws a step's batch with."""
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + step * 8191 + rank)
    return g


class Transposer:
    """Random transposition of pitch tokens, for augmentation.

    Args:
        pitch_of: [V] the MIDI pitch of each token id, -1 for tokens that are not pitches. Pitch ids must be
            contiguous and ascending (id + k is pitch + k), as in every vocabulary of cadenza.
        max_shift: the largest shift in semitones, either way.
    """

    def __init__(self, pitch_of: torch.Tensor, max_shift: int) -> None:
        self.pitch_of = pitch_of.long()
        pitches = self.pitch_of[self.pitch_of >= 0]
        if len(pitches) == 0:
            raise ValueError("the vocabulary has no pitch tokens")
        self.lowest, self.highest = int(pitches.min()), int(pitches.max())
        self.max_shift = max_shift

    @classmethod
    def contiguous(cls, first_id: int, first_pitch: int, n_pitches: int, vocab_size: int, max_shift: int) -> Transposer:
        """Pitch tokens first_id .. first_id + n_pitches - 1 are pitches first_pitch and up."""
        pitch_of = torch.full((vocab_size,), -1)
        pitch_of[first_id : first_id + n_pitches] = torch.arange(first_pitch, first_pitch + n_pitches)
        return cls(pitch_of, max_shift)

    def shift(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """Move the pitch tokens of each row of x [B, T] by shift [B] semitones; other tokens stay. Pitches that
        would leave the vocabulary are clamped to its edge (`draw` never asks for that)."""
        p = self.pitch_of[x]
        moved = (p + shift[:, None]).clamp(self.lowest, self.highest)
        return torch.where(p >= 0, x + (moved - p), x)

    def draw(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A shift [B] per row of x [B, T], uniform in [-max_shift, max_shift] as far as the row's pitches stay
        inside the vocabulary."""
        p = self.pitch_of[x]
        hi = torch.where(p >= 0, p, -(10**6)).amax(1)
        lo = torch.where(p >= 0, p, 10**6).amin(1)
        down = (self.lowest - lo).clamp(min=-self.max_shift, max=0)  # a row without pitches: 0
        up = (self.highest - hi).clamp(min=0, max=self.max_shift)
        u = torch.rand(x.shape[0], generator=g)
        return down + (u * (up - down + 1)).long().clamp(max=up - down)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return self.shift(x, self.draw(x, g)) if self.max_shift else x


class Windows:
    """nanoGPT-style batches: random windows of `block_size + 1` tokens from one stream.

    batch["x"] is [B, T], batch["y"] is x shifted left by one token; each side stream in `aligned` (e.g. the voice
    phase of every token) comes as batch[name] [B, T], aligned with x. With a `transposer`, every window is
    transposed by its own random interval.

    Args:
        tokens: the stream (pieces joined end to end, each with its own start and end tokens).
        block_size: T, the model's context.
        batch_size: B.
        seed: with the step and the rank, decides every draw.
        aligned: side streams as long as `tokens`.
        transposer: random transposition of the pitch tokens (None: none).
    """

    def __init__(
        self,
        tokens: Sequence[int] | torch.Tensor,
        block_size: int,
        batch_size: int,
        seed: int = 0,
        *,
        aligned: dict[str, Sequence[int] | torch.Tensor] | None = None,
        transposer: Transposer | None = None,
    ) -> None:
        self.tokens = torch.as_tensor(tokens).long()
        if self.tokens.numel() <= block_size + 1:
            raise ValueError(f"a stream of {self.tokens.numel()} tokens is too short for windows of {block_size + 1}")
        self.aligned = {k: torch.as_tensor(v).long() for k, v in (aligned or {}).items()}
        for name, side in self.aligned.items():
            if side.shape != self.tokens.shape:
                raise ValueError(f"side stream {name!r} has {side.numel()} entries for {self.tokens.numel()} tokens")
        self.block_size, self.batch_size, self.seed, self.transposer = block_size, batch_size, seed, transposer

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        g = batch_generator(self.seed, step, rank)
        starts = torch.randint(0, self.tokens.numel() - self.block_size - 1, (self.batch_size,), generator=g)
        idx = starts[:, None] + torch.arange(self.block_size + 1)  # [B, T + 1]
        win = self.tokens[idx]
        if self.transposer is not None:
            win = self.transposer(win, g)
        return {"x": win[:, :-1], "y": win[:, 1:], **{k: v[idx[:, :-1]] for k, v in self.aligned.items()}}


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
        perm = torch.randperm(self.n, generator=batch_generator(self.seed, epoch, 0))
        start = (k * world_size + rank) * self.batch_size
        idx = perm[start : start + self.batch_size]
        return {name: t[idx] for name, t in self.tensors.items()}
