"""The ABC language model (MuPT family): held-out bits per character against a character n-gram, validity of
100 sampled tunes, generation speed fp32 vs bf16, and the LoRA fine-tuning test.

1. Bits per character on the valid split (the tunes the shipped model was evaluated on) of the shipped
   models/abc-lm and of a PPM-C character model of order 5 fitted on the same train split (a ratio).
2. 100 tunes sampled from the shipped model (prompt "X:1", top-p 0.95) at temperature 0.7 (the default of
   `cadenza abc generate`), 0.8 and 1.0: shares that music21 and abc2midi parse, bars with the right duration,
   and the share of tunes whose opening (the first 30 characters after the header) is copied verbatim from a
   training tune; the same figures for 100 valid-split corpus tunes. Then 50 tunes each from three header
   prompts (a reel, a hornpipe, a song in 3/4) at the default temperature: the Irish tune types are harder.
   Sampling guards open repeats by default (`OpenRepeatGuard`); each figure is also given without it.
3. Generation tokens/s, one process, KV cache: fp32 and bf16 autocast.
4. Fine-tuning: the base never saw the Irish 6/8 tunes (jigs); LoRA and full fine-tuning on 50 of O'Neill's
   jigs with the defaults of `cadenza abc finetune`; NLL on 425 other O'Neill jigs before and after, and the
   wall time (must drop by >= 20% in < 10 minutes). The defaults (LoRA 30 steps at lr 3e-3, full 40 at 3e-4) were
   chosen on 100 further jigs that the figures here do not use; 150 steps overfit the 50 tunes.

usage: python benchmarks/abc_lm.py [--samples 100] [--skip-finetune]
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import tempfile
import time

import numpy as np
import torch

from cadenza.evaluate.abc_validity import validate_tunes
from cadenza.symbolic.abc_lm import (
    corpus_texts,
    finetune,
    finetune_defaults,
    generate_abc,
    header_prompt,
    jig_texts,
    load_abc_lm,
    tune_nll,
)
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


def copied_share(tunes: list[str], train_text: str, n_chars: int = 30) -> float:
    """Share of tunes whose opening (the first `n_chars` characters after the K: line) is in the training text."""
    copied = 0
    for tune in tunes:
        body = tune.split("\nK:", 1)[-1].split("\n", 1)[-1]
        if len(body) >= n_chars and body[:n_chars] in train_text:
            copied += 1
    return copied / max(len(tunes), 1)


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

    train_text = "\n".join(texts["train"])
    runs = {}
    for name, temperature, guard in (
        ("samples", 0.7, True),
        ("samples_without_repeat_guard", 0.7, False),
        ("samples_temperature_0.8", 0.8, True),
        ("samples_temperature_1", 1.0, True),
    ):
        t0 = time.perf_counter()
        tunes = generate_abc(model, tok, prompt="X:1\n", n=args.samples, temperature=temperature, top_p=0.95, seed=0,
                             guard_repeats=guard)  # fmt: skip
        seconds = time.perf_counter() - t0
        report = validate_tunes(tunes, progress=False)
        runs[name] = {k: round(report[k], 3) for k in ("valid_music21", "valid_abc2midi", "valid", "bars_correct")}
        runs[name] |= {"tunes": report["tunes"], "bars": report["bars"], "seconds": round(seconds, 1),
                       "copied_openings": round(copied_share(tunes, train_text), 3)}  # fmt: skip
    by_prompt = {}  # the "X:1" samples are mostly Essen-like songs; Irish tune types are harder
    for name, header in (("reel", dict(rhythm="reel", meter="4/4", unit="1/8", key="D")),
                         ("hornpipe", dict(rhythm="hornpipe", meter="2/4", unit="1/16", key="G")),
                         ("song in 3/4", dict(meter="3/4", unit="1/8", key="F"))):  # fmt: skip
        for guard in (True, False):
            tunes = generate_abc(model, tok, prompt=header_prompt(**header), n=50, seed=0, guard_repeats=guard)
            report = validate_tunes(tunes, progress=False)
            key = name if guard else f"{name} (no repeat guard)"
            by_prompt[key] = {"valid": round(report["valid"], 3), "bars_correct": round(report["bars_correct"], 3)}
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
        **runs,
        "samples_by_header_prompt_50_each": by_prompt,
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
        order = np.random.default_rng(0).permutation(len(jigs))
        train_j = [jigs[i] for i in order[:50]]
        held = [jigs[i] for i in order[150:]]  # order[50:150] chose the defaults
        before = tune_nll(model, tok, held)["nll"]
        for method, lora in (("lora", True), ("full", False)):
            steps, lr = finetune_defaults(lora)
            tc = TrainConfig(max_steps=steps, lr=lr, warmup_steps=steps // 10, eval_every=steps,
                             checkpoint_every=steps, seed=0)  # fmt: skip
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                tuned = finetune(copy.deepcopy(model), tok, train_j, tc, tmp, lora=lora, rank=16, progress=False)
            seconds = time.perf_counter() - t0
            after = tune_nll(tuned, tok, held)["nll"]
            figures[f"finetune_oneills_jigs_{method}"] = {
                "train_tunes": len(train_j), "held_out_tunes": len(held), "nll_before": round(before, 4),
                "nll_after": round(after, 4), "drop": round(1 - after / before, 3), "minutes": round(seconds / 60, 2),
                "method": ("LoRA r=16 on q/k/v/o/gate/up/down" if lora else "every weight")
                + f", {steps} steps, lr {lr:g}, batch 8 x 256 tokens",
            }  # fmt: skip
    write_result("abc_lm", figures, command="python benchmarks/abc_lm.py")


if __name__ == "__main__":
    main()
