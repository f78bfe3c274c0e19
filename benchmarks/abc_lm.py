"""The ABC language model (MuPT family): held-out bits per character against a character n-gram, validity of
100 sampled tunes, generation speed fp32 vs bf16, and the LoRA fine-tuning test.

1. Bits per character on the valid split (the tunes the shipped model was evaluated on) of the shipped
   models/abc-lm and of a PPM-C character model of order 5 fitted on the same train split (a ratio).
2. 100 tunes sampled from the shipped model (prompt "X:1", temperature 0.8, top-p 0.95: the defaults of
   `cadenza abc generate`): shares that music21
   and abc2midi parse, and bars with the right duration; the same figures for 100 valid-split corpus tunes.
3. Generation tokens/s, one process, KV cache: fp32 and bf16 autocast.
4. Fine-tuning: the base never saw the Irish 6/8 tunes (jigs); LoRA on 50 of O'Neill's jigs; held-out NLL
   on the other O'Neill's jigs before and after, and the wall time (must drop by >= 20% in < 10 minutes).

usage: python benchmarks/abc_lm.py [--samples 100] [--skip-finetune]
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time

import numpy as np
import torch

from cadenza.evaluate.abc_validity import validate_tunes
from cadenza.symbolic.abc_lm import corpus_texts, finetune, generate_abc, jig_texts, load_abc_lm, tune_nll
from cadenza.symbolic.ppm import PPM
from cadenza.train.loop import TrainConfig

from common import write_result


def char_ids(text: str) -> list[int]:
    return [min(ord(c), 127) for c in text]


def ppm_bits_per_char(train: list[str], valid: list[str], order: int = 5) -> float:
    model = PPM(128, order).fit(char_ids(t) for t in train)
    total = count = 0.0
    for t in valid:
        ids = char_ids(t)
        for i, x in enumerate([*ids, model.end]):
            p = model.distribution(ids[max(0, i - order) : i])[x]
            total -= math.log2(max(float(p), 1e-12))
            count += 1
    return total / count


def generation_speed(model, tok, bf16: bool, n_tokens: int = 256) -> float:  # type: ignore[no-untyped-def]
    x = torch.tensor([[tok.bos_token_id, *tok.encode("X:1\n", add_special_tokens=False)]])
    torch.manual_seed(0)
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=True, max_new_tokens=n_tokens,
                           min_new_tokens=n_tokens, pad_token_id=tok.pad_token_id)  # fmt: skip
    return (y.shape[1] - x.shape[1]) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--skip-finetune", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, tok = load_abc_lm()
    texts = corpus_texts(exclude_jigs=True)
    lm = tune_nll(model, tok, texts["valid"])
    ppm_bpc = ppm_bits_per_char(texts["train"], texts["valid"])

    t0 = time.perf_counter()
    samples = generate_abc(model, tok, prompt="X:1\n", n=args.samples, temperature=0.8, top_p=0.95, seed=0)
    at_t1 = validate_tunes(generate_abc(model, tok, prompt="X:1\n", n=args.samples, temperature=1.0, top_p=0.95,
                                        seed=0))  # fmt: skip
    gen_seconds = time.perf_counter() - t0
    ours = validate_tunes(samples)
    random.seed(0)
    reference = validate_tunes(random.sample(texts["valid"], min(100, len(texts["valid"]))))
    keys = ("valid_music21", "valid_abc2midi", "valid", "bars_correct")
    figures: dict = {
        "valid_bits_per_char": {
            "abc_lm": round(lm["bits_per_char"], 4),
            "ppm_c_order5": round(ppm_bpc, 4),
            "ratio_lm_over_ppm": round(lm["bits_per_char"] / ppm_bpc, 3),
        },  # fmt: skip
        "valid_nll_per_token": round(lm["nll"], 4),
        "samples": {k: round(ours[k], 3) for k in keys}
        | {"tunes": ours["tunes"], "bars": ours["bars"], "seconds": round(gen_seconds, 1)},  # fmt: skip
        "samples_temperature_1": {k: round(at_t1[k], 3) for k in keys},
        "corpus_reference": {k: round(reference[k], 3) for k in keys} | {"tunes": reference["tunes"]},
        "generation_tokens_per_s": {
            "fp32": round(generation_speed(model, tok, False), 1),
            "bf16": round(generation_speed(model, tok, True), 1),
        },
    }
    figures["generation_tokens_per_s"]["bf16_over_fp32"] = round(
        figures["generation_tokens_per_s"]["bf16"] / figures["generation_tokens_per_s"]["fp32"], 2
    )
    if not args.skip_finetune:
        jigs = jig_texts("oneills")
        rng = np.random.default_rng(0)
        order = rng.permutation(len(jigs))
        train_j = [jigs[i] for i in order[:50]]
        held = [jigs[i] for i in order[50:150]]
        before = tune_nll(model, tok, held)["nll"]
        tc = TrainConfig(max_steps=150, lr=2e-3, warmup_steps=15, eval_every=150, checkpoint_every=150, seed=0)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            tuned = finetune(model, tok, train_j, tc, tmp, lora=True, rank=16, progress=False)
        seconds = time.perf_counter() - t0
        after = tune_nll(tuned, tok, held)["nll"]
        figures["finetune_oneills_jigs"] = {
            "train_tunes": len(train_j), "held_out_tunes": len(held), "nll_before": round(before, 4),
            "nll_after": round(after, 4), "drop": round(1 - after / before, 3), "minutes": round(seconds / 60, 2),
            "method": "LoRA r=16 on q/k/v/o/gate/up/down, 150 steps, batch 8 x 256 tokens",
        }  # fmt: skip
    write_result("abc_lm", figures, command="python benchmarks/abc_lm.py")


if __name__ == "__main__":
    main()
