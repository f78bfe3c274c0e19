"""Vector quantizers for neural codecs: one codebook (VQ-VAE) and residual stacks of them (RVQ, as in
SoundStream, EnCodec and DAC).

`VectorQuantize` has two lookups and two ways for its codebook to learn:

- lookup: Euclidean nearest neighbour in the latent itself (`factorized=False`: VQ-VAE, SoundStream,
  EnCodec), or DAC's factorized codes (Kumar et al. 2023, https://arxiv.org/abs/2306.06546, sec. 3.2, after
  ViT-VQGAN): a projection to `codebook_dim` (e.g. 8) dimensions, a nearest neighbour by cosine, and a
  projection back;
- learning: moving averages (`ema=True`, SoundStream / EnCodec: each chosen code moves towards the mean of
  the vectors that chose it, k-means online), or the codebook loss ||sg(z_e) - z_q||^2 of van den Oord et al.
  2017 (https://arxiv.org/abs/1711.00937), as VQ-VAE and DAC.

Both train the encoder with the commitment loss ||z_e - sg(z_q)||^2 and pass gradients straight through.
On our CPU/GPU budget (minutes, not DAC's days) Euclidean lookups with moving averages learned best: at equal
time on one GPU their codec reached a mel distance of 2.76 at 6 kbps against 3.33 with factorized lookups
(see the codec card); DAC's factorized codes with the codebook loss diverged at our learning rate (1e-3). The
codebook loss stays the VQ-VAE baseline's, as in the paper.

Codes that fall out of use are revived, as SoundStream and EnCodec do: each quantizer keeps a moving average
of how often each code is chosen, and in training a code whose share drops below 5% of a uniform share is
replaced by a random encoder output of the current batch. The first training batch thereby initializes the
codebook from data. Without it, a small codec collapses to one code per codebook.

`ResidualVQ` quantizes the residual left by each codebook with the next; `quantizer_dropout` trains with a
random number of codebooks per item, so one model serves every bitrate from 1 to n codebooks. As in DAC, every
level quantizes its own residual (the residual subtracts each level's codes, active or not); dropout only masks
what an inactive level adds to the output and to the losses, and its codebook learns only from the items for
which it is active.

In a run of several processes (DDP), the moving averages and the code usage are summed over every process
before they update the codebook, and revived codes come from the first process, so that every process keeps
the same codebooks (DDP itself only averages gradients, and these codebooks have none).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _sum_over_processes(t: torch.Tensor) -> torch.Tensor:
    """`t` summed over every process of a distributed run (itself in a single process)."""
    if _distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


@dataclass
class QuantizerOutput:
    z_q: torch.Tensor  # quantized latents [B, D, T], straight-through
    codes: torch.Tensor  # [B, K, T] int64
    commitment_loss: torch.Tensor  # scalar: ||z_e - sg(z_q)||^2, pulls the encoder to its codes
    codebook_loss: torch.Tensor  # scalar: ||sg(z_e) - z_q||^2, pulls the codes to the encoder
    first: torch.Tensor | None = None  # the first level's output alone [B, D, T], straight-through (what an
    # auxiliary loss on the first codebook reads, as SpeechTokenizer distils into its first level)


def _projection(c_in: int, c_out: int) -> nn.Module:
    # A 1x1 convolution without bias: a bias would outweigh the latents' variation and point every frame the
    # same way, so one code would win everywhere.
    layer = nn.Conv1d(c_in, c_out, 1, bias=False)
    return nn.utils.parametrizations.weight_norm(layer)


class VectorQuantize(nn.Module):
    """One codebook of `cardinality` entries.

    Args:
        dim: the latent width D.
        cardinality: the number of codes.
        codebook_dim: the width of the lookup space (factorized); ignored when `factorized` is False.
        factorized: DAC's projected lookup by cosine; False: Euclidean lookup in the latent.
        ema: the codebook learns by moving averages (EnCodec); False: by the codebook loss (VQ-VAE, DAC).
    """

    usage: torch.Tensor
    ema_decay = 0.9  # per step in which a code is chosen

    def __init__(self, dim: int, cardinality: int = 1024, codebook_dim: int = 8, factorized: bool = True,
                 ema: bool = True, usage_decay: float = 0.99, dead_share: float = 0.05) -> None:  # fmt: skip
        super().__init__()
        self.usage_decay, self.dead_share = usage_decay, dead_share
        self.ema = ema
        self.register_buffer("usage", torch.zeros(cardinality))  # moving average of picks per step
        self.factorized = factorized
        self.cardinality = cardinality
        lookup_dim = codebook_dim if factorized else dim
        self.in_proj: nn.Module = _projection(dim, lookup_dim) if factorized else nn.Identity()
        self.out_proj: nn.Module = _projection(lookup_dim, dim) if factorized else nn.Identity()
        self.codebook = nn.Embedding(cardinality, lookup_dim)
        if not factorized:
            nn.init.uniform_(self.codebook.weight, -1 / cardinality, 1 / cardinality)
        if ema:  # learned by moving averages, not by gradients: no optimizer touches it
            self.codebook.weight.requires_grad_(False)

    def forward(
        self, z: torch.Tensor, active: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [B, D, T] -> (z_q [B, D, T], codes [B, T], commitment loss [B], codebook loss [B]).

        `active` [B] (bool): the items whose codes count in training (quantizer dropout); the codebook learns
        from those alone. Default: all."""
        z_e = self.in_proj(z)  # [B, d, T]
        codes = self.nearest(z_e)
        if self.training:
            learn = z_e if active is None else z_e[active]
            self._revive_dead_codes(learn, self.nearest(learn) if len(learn) else codes[:0])
            codes = self.nearest(z_e)
            if self.ema:
                self._ema_update(learn, codes if active is None else codes[active])
        z_q = self.lookup(codes)  # [B, d, T]
        commitment = F.mse_loss(z_e, z_q.detach(), reduction="none").mean([1, 2])
        codebook = F.mse_loss(z_q, z_e.detach(), reduction="none").mean([1, 2])
        if self.ema:  # the codebook learns by moving averages; the loss is only reported
            codebook = codebook.detach()
        z_q = z_e + (z_q - z_e).detach()  # straight-through estimator
        return self.out_proj(z_q), codes, commitment, codebook

    @torch.no_grad()
    def _ema_update(self, z_e: torch.Tensor, codes: torch.Tensor) -> None:
        """Move each chosen code towards the mean of the vectors that chose it (k-means by moving averages,
        as SoundStream and EnCodec): the codes follow the encoder, whatever its scale."""
        flat = z_e.detach().transpose(1, 2).reshape(-1, z_e.shape[1])
        onehot = F.one_hot(codes.flatten(), self.cardinality).to(flat)  # [N, C]
        counts = _sum_over_processes(onehot.sum(0))
        sums = _sum_over_processes(onehot.T @ flat)  # [C, d]
        chosen = counts > 0
        means = sums[chosen] / counts[chosen, None]
        w = self.codebook.weight.data
        w[chosen] = self.ema_decay * w[chosen] + (1 - self.ema_decay) * means

    @torch.no_grad()
    def _revive_dead_codes(self, z_e: torch.Tensor, codes: torch.Tensor) -> None:
        counts = torch.bincount(codes.flatten(), minlength=self.cardinality).to(self.usage)
        n = _sum_over_processes(torch.tensor([float(codes.numel())], device=self.usage.device))
        counts = _sum_over_processes(counts)
        self.usage.mul_(self.usage_decay).add_(counts, alpha=1 - self.usage_decay)
        expected = float(n) / self.cardinality
        dead = torch.nonzero(self.usage < self.dead_share * expected).flatten()
        if len(dead) == 0:  # the same on every process: usage is summed over them
            return
        pool = z_e.detach().transpose(1, 2).reshape(-1, z_e.shape[1])
        if len(pool):
            fresh = pool[torch.randint(0, pool.shape[0], (len(dead),), device=pool.device)].contiguous()
        else:  # no active item here this step: keep the codes (another process may replace them)
            fresh = self.codebook.weight.data[dead].clone()
        if _distributed():  # every process takes the first one's vectors
            dist.broadcast(fresh, src=0)
        self.codebook.weight.data[dead] = fresh
        self.usage[dead] = expected  # a fresh code gets the time to be picked

    def nearest(self, z_e: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each frame of z_e [B, d, T] -> [B, T]."""
        b, d, t = z_e.shape
        flat = z_e.transpose(1, 2).reshape(-1, d)
        book = self.codebook.weight
        if self.factorized:  # cosine similarity: nearest on the unit sphere
            flat, book = F.normalize(flat, dim=1), F.normalize(book, dim=1)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.T + book.pow(2).sum(1)[None]
        return dist.argmin(1).reshape(b, t)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, T] -> code vectors [B, d, T]."""
        return self.codebook(codes).transpose(1, 2)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, T] -> z_q [B, D, T]."""
        return self.out_proj(self.lookup(codes))


class ResidualVQ(nn.Module):
    """`n_codebooks` quantizers, each coding what the previous ones left.

    Args:
        quantizer_dropout: share of training items that use a random number of codebooks (1..n), as DAC (0.5).
    """

    def __init__(self, dim: int, n_codebooks: int = 12, cardinality: int = 1024, codebook_dim: int = 8,
                 quantizer_dropout: float = 0.5, factorized: bool = True, ema: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.n_codebooks = n_codebooks
        self.cardinality = cardinality
        self.quantizer_dropout = quantizer_dropout
        self.quantizers = nn.ModuleList(
            [VectorQuantize(dim, cardinality, codebook_dim, factorized, ema) for _ in range(n_codebooks)]
        )

    def forward(self, z: torch.Tensor, n_quantizers: int | None = None) -> QuantizerOutput:
        """z [B, D, T] -> quantized with the first `n_quantizers` codebooks (all by default; random per item
        in training when quantizer dropout is on)."""
        b = z.shape[0]
        n = n_quantizers or self.n_codebooks
        active = torch.full((b,), n, device=z.device)
        if self.training and self.quantizer_dropout > 0 and n_quantizers is None:
            drop = torch.rand(b, device=z.device) < self.quantizer_dropout
            active = torch.where(drop, torch.randint(1, self.n_codebooks + 1, (b,), device=z.device), active)
        residual, z_q, first = z, torch.zeros_like(z), None
        codes, commit, book = [], z.new_zeros(()), z.new_zeros(())
        for i, q in enumerate(self.quantizers[:n]):
            on = i < active  # [B] bool
            zi, ci, cl, bl = q(residual, on)
            first = zi if i == 0 else first
            mask = on.to(z)
            z_q = z_q + zi * mask[:, None, None]
            residual = residual - zi  # each level codes its own residual (as DAC), active or not
            commit = commit + (cl * mask).mean()
            book = book + (bl * mask).mean()
            codes.append(ci)
        return QuantizerOutput(z_q, torch.stack(codes, 1), commit, book, first)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, T] (K <= n_codebooks) -> z_q [B, D, T]."""
        z = self.quantizers[0].decode(codes[:, 0])  # type: ignore[operator]
        for i in range(1, codes.shape[1]):
            z = z + self.quantizers[i].decode(codes[:, i])  # type: ignore[operator]
        return z
