"""Music Transformer: the JSB benchmark of the shipped model, KV-cache generation speed, the memory of skewing,
and training throughput fp32 vs bf16.

1. `cadenza eval jsb` figures of models/music-transformer-jsb (valid and test NLL, nats per token).
2. Generating 1,024 tokens with the KV cache vs recomputing the whole prefix at every token (same model).
3. Peak memory of the relative logits at L = 2,048 (one head, 64 dims): the paper's skewing vs the direct
   computation of Shaw et al. that gathers an [L, L, D] tensor; each in a fresh process, peak RSS growth.
4. Training tokens/s of the shipped configuration, fp32 vs bf16 autocast, in the shared loop.
5. What stands between the model and the paper's 0.335: the valid NLL when every token sees at least 224 tokens
   (stride 32) instead of 128, and the NLL on the training pieces themselves (no transposition): if more context
   barely helps and the training pieces score close to the validation ones, the model underfits.

usage: python benchmarks/music_transformer.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import torch

from cadenza.nn.gpt import GPT, GPTConfig
from cadenza.nn.lm import lm_loss
from cadenza.symbolic.transformer import (
    JSBTrainConfig,
    MusicTransformer,
    evaluate_jsb,
    jsb_sequences,
    jsb_windows,
    model_config,
)
from cadenza.train import TrainConfig, train

from common import write_result

GEN_TOKENS = 1024

MEMORY_PROBE = """
import resource, sys, torch
from cadenza.nn.relative import relative_logits_naive, relative_logits_skewed
L, D = 2048, 64
q, e = torch.randn(1, 1, L, D), torch.randn(1, L, D)
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
base = hwm()
with torch.no_grad():
    out = (relative_logits_skewed if sys.argv[1] == "skewed" else relative_logits_naive)(q, e)
print(hwm() - base)
"""


def generation_speed() -> dict[str, float]:
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=130, block_size=GEN_TOKENS, n_layer=4, n_head=4, n_embd=128, position="relative")
    model = GPT(cfg).eval()
    tokens = torch.randint(0, 130, (1, GEN_TOKENS))
    with torch.no_grad():
        t0 = time.perf_counter()
        logits, caches = model(tokens[:, :1])
        for t in range(1, GEN_TOKENS):
            logits, caches = model(tokens[:, t : t + 1], caches)
        cached = time.perf_counter() - t0
        t0 = time.perf_counter()
        for t in range(1, GEN_TOKENS + 1):
            logits, _ = model(tokens[:, :t])
        full = time.perf_counter() - t0
    return {
        "tokens": GEN_TOKENS,
        "kv_cache_seconds": round(cached, 2),
        "full_recompute_seconds": round(full, 2),
        "kv_cache_speedup": round(full / cached, 1),
        "kv_cache_tokens_per_s": round(GEN_TOKENS / cached, 1),
    }


def logits_memory() -> dict[str, float]:
    out = {}
    for how in ("skewed", "naive"):
        p = subprocess.run([sys.executable, "-c", MEMORY_PROBE, how], capture_output=True, text=True, check=True)
        out[f"{how}_peak_mb"] = round(int(p.stdout.strip()) / 2**20, 1)
    out["naive_over_skewed"] = round(out["naive_peak_mb"] / out["skewed_peak_mb"], 1)
    out["length"] = 2048
    return out


def throughput(cfg: JSBTrainConfig) -> dict[str, float]:
    data = jsb_windows(jsb_sequences("train"), cfg.block_size, cfg.batch_size, cfg.max_shift)
    rates = {}
    for bf16 in (False, True):
        torch.manual_seed(0)
        model = GPT(model_config(cfg))
        for steps in (2, 8):  # the first run warms up
            tc = TrainConfig(max_steps=steps, bf16=bf16, checkpoint_every=10**9, eval_every=10**9, warmup_steps=1)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                train(model, data, lm_loss, tc, out_dir=tmp, progress=False, resume=False)
                seconds = time.perf_counter() - t0
        rates["bf16" if bf16 else "fp32"] = 8 * cfg.batch_size * cfg.block_size / seconds
    return {
        "fp32_tokens_per_s": round(rates["fp32"], 1),
        "bf16_tokens_per_s": round(rates["bf16"], 1),
        "bf16_over_fp32": round(rates["bf16"] / rates["fp32"], 2),
    }


def the_gap(model: MusicTransformer, valid_nll: float) -> dict[str, float]:
    from cadenza.nn.lm import corpus_nll
    from cadenza.symbolic.transformer import token_phases

    longer = evaluate_jsb(model, "valid", stride=model.cfg.block_size // 8)["nll"]
    train_nll = corpus_nll(model, jsb_sequences("train"), model.cfg.block_size // 2, phase_of=token_phases)["nll"]
    return {
        "valid_nll_stride_128": round(valid_nll, 4),
        "valid_nll_stride_32": round(longer, 4),
        "train_nll_stride_128": round(train_nll, 4),
        "generalization_gap": round(valid_nll - train_nll, 4),
        "gap_to_anchor": round(valid_nll - 0.335, 4),
    }


def main() -> None:
    torch.set_num_threads(2)
    model = MusicTransformer.from_pretrained()
    config = model.saved_config
    t0 = time.perf_counter()
    valid, test = evaluate_jsb(model, "valid"), evaluate_jsb(model, "test")
    jsb = {
        "valid_nll": round(valid["nll"], 4),
        "test_nll": round(test["nll"], 4),
        "context_tokens": model.cfg.block_size,
        "stride_tokens": model.cfg.block_size // 2,
        "protocol": "whole pieces, sliding windows past the context (every validation piece is longer)",
        "eval_seconds": round(time.perf_counter() - t0, 1),
        "target": 0.40,
        "anchor_music_transformer": 0.335,
        "anchor_vanilla_transformer": 0.417,
        "params": sum(p.numel() for p in model.parameters()),
    }
    figures = {
        "jsb": jsb,
        "generation": generation_speed(),
        "relative_logits_memory": logits_memory(),
        "training": throughput(JSBTrainConfig(**config["jsb"])),
        "what_stands_in_the_way": the_gap(model, valid["nll"]),
    }
    write_result("music_transformer", figures, command="python benchmarks/music_transformer.py")


if __name__ == "__main__":
    main()
