"""A tiny residual-VQ autoencoder trained by the shared loop; started by torchrun for the two-process test of
moving-average codebooks (each rank sees other data; their codebooks must stay identical).

usage: python tiny_vq_run.py OUT_DIR MAX_STEPS
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch

from cadenza.nn.quantize import ResidualVQ
from cadenza.train import TrainConfig, train


class TinyVQ(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc = torch.nn.Conv1d(4, 6, 1)
        self.rvq = ResidualVQ(6, n_codebooks=3, cardinality=16, quantizer_dropout=0.5, factorized=False, ema=True)
        self.dec = torch.nn.Conv1d(6, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.rvq(self.enc(x))
        return ((self.dec(q.z_q) - x) ** 2).mean() + 0.25 * q.commitment_loss


class RankData:
    """Each rank draws its own batches (the batch depends on the rank)."""

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(1000 * rank + step)
        centers = torch.randn(8, 4, generator=torch.Generator().manual_seed(7)) * 3
        pick = torch.randint(0, 8, (16, 10), generator=g)
        return {"x": (centers[pick] + 0.1 * torch.randn(16, 10, 4, generator=g)).transpose(1, 2)}


def codebooks_digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        if "codebook" in name or "usage" in name:
            h.update(name.encode())
            h.update(t.detach().numpy().tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    out, steps = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = TinyVQ()
    cfg = TrainConfig(max_steps=steps, lr=1e-2, warmup_steps=1, checkpoint_every=steps, eval_every=10**9)
    train(model, RankData(), lambda m, b: m(b["x"]), cfg, out_dir=out, progress=False)
    rank = int(os.environ.get("RANK", "0"))
    Path(out, f"vq_rank{rank}.json").write_text(json.dumps({"digest": codebooks_digest(model)}))
