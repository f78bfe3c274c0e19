"""A tiny training run for the training-loop tests; also started by torchrun for the 2-process test.

usage: python tiny_run.py OUT_DIR MAX_STEPS [STEP_DELAY_S]
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import torch

from cadenza.nn.gpt import GPT, GPTConfig
from cadenza.nn.lm import lm_loss
from cadenza.train import TrainConfig, Windows, train

CFG = GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=16)


def tokens() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    pattern = torch.randint(0, 16, (50,), generator=g)
    return pattern.repeat(20)  # a learnable, repeating stream


def run(out_dir: str, max_steps: int, delay: float = 0.0) -> torch.nn.Module:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = GPT(CFG)

    def loss_fn(m: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if delay:
            time.sleep(delay)
        return lm_loss(m, batch)

    cfg = TrainConfig(max_steps=max_steps, lr=3e-3, warmup_steps=5, checkpoint_every=5, eval_every=10**9, log_every=5)
    train(model, Windows(tokens(), 16, 8), loss_fn, cfg, out_dir=out_dir, progress=False)
    return model


def digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().numpy().tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    out, steps = sys.argv[1], int(sys.argv[2])
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    model = run(out, steps, delay)
    rank = int(__import__("os").environ.get("RANK", "0"))
    Path(out, f"rank{rank}.json").write_text(json.dumps({"digest": digest(model)}))
