"""Training throughput of the shared loop, fp32 vs bf16 autocast, tokens/s (same model, data and steps).

A 4-layer, 128-wide GPT on the melody grid of Essen tunes (erk5), context 256, batch 8, two threads.
bf16 is fast only where the CPU computes it natively (AMX or AVX512-BF16); elsewhere PyTorch emulates it.
usage: python benchmarks/train_bf16.py
"""

from __future__ import annotations

import tempfile
import time

import torch

from cadenza import io
from cadenza.corpus import music21_corpus_dir
from cadenza.encodings import MelodyGrid
from cadenza.nn.gpt import GPT, GPTConfig
from cadenza.nn.lm import lm_loss
from cadenza.train import TrainConfig, Windows, train
from cadenza.train.loop import cpu_has_native_bf16

from common import write_result

STEPS, WARMUP_STEPS, BLOCK, BATCH, WIDTH = 8, 2, 256, 8, 128


def run(bf16: bool, tokens: torch.Tensor) -> float:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=131, block_size=BLOCK, n_layer=4, n_head=4, n_embd=WIDTH))
    data = Windows(tokens, BLOCK, BATCH)
    cfg = TrainConfig(max_steps=WARMUP_STEPS, bf16=bf16, checkpoint_every=10**9, eval_every=10**9, threads=2)
    with tempfile.TemporaryDirectory() as tmp:
        train(model, data, lm_loss, cfg, out_dir=tmp, progress=False, resume=False)  # warm-up
    cfg = TrainConfig(max_steps=STEPS, bf16=bf16, checkpoint_every=10**9, eval_every=10**9, threads=2)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train(model, data, lm_loss, cfg, out_dir=tmp, progress=False, resume=False)
        seconds = time.perf_counter() - t0
    return STEPS * BLOCK * BATCH / seconds


def main() -> None:
    scores = io.read(music21_corpus_dir() / "essenFolksong" / "erk5.abc")
    ids, _ = MelodyGrid().encode_corpus(scores)
    tokens = torch.tensor(ids * 4)
    fp32 = run(False, tokens)
    bf16 = run(True, tokens)
    write_result(
        "train_bf16",
        {
            "model": f"GPT 4x{WIDTH}, context {BLOCK}, batch {BATCH}, 2 threads, {STEPS} steps each",
            "cpu_native_bf16": cpu_has_native_bf16(),
            "fp32_tokens_per_s": round(fp32),
            "bf16_tokens_per_s": round(bf16),
            "bf16_speedup": round(bf16 / fp32, 2),
        },
        command="python benchmarks/train_bf16.py",
    )


if __name__ == "__main__":
    main()
