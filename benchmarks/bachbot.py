"""BachBot-style chorale LSTM: validation cross-entropy, and voice leading of its harmonizations.

1. Cross-entropy per token (nats) of the shipped models/bachbot on the valid split of the bach corpus (BachBot
   reports 0.477 on its own split).
2. The soprano of every held-out (test split) chorale harmonized by constrained decoding three ways: the
   model alone (one sample), the model with the rules choosing the best of 16 samples, and the default (the
   rules also mask each sampled note, then the best of 16); voice-leading violations per 100 beats (parallel
   fifths and octaves, crossing, spacing, range) next to the same counts for Bach's own test chorales and for
   the HMM + Viterbi harmonizer of `cadenza harmonize --method viterbi`.

usage: python benchmarks/bachbot.py
"""

from __future__ import annotations

import argparse
import time

import torch

from cadenza.corpus import load_corpus
from cadenza.errors import InputError
from cadenza.evaluate.voice_leading import violations_of_set
from cadenza.symbolic.bachbot import BachBot, chorale_sequences, evaluate_chorales, harmonize_bachbot
from cadenza.symbolic.harmonize import HarmonyModel, harmonize

from common import write_result


def rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in d.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(ap.parse_args().threads)
    corpus = load_corpus("bach")
    model = BachBot.from_pretrained()
    valid, _ = chorale_sequences(corpus.split("valid"))
    ce = evaluate_chorales(model, valid)
    test = [s for s in corpus.split("test") if len(s.parts) == 4]
    melodies = [s.replace(parts=(s.parts[0],)) for s in test]
    settings = {"model_1_sample": (1, False), "model_best_of_16": (16, False), "rules_best_of_16": (16, True)}
    ours: dict[str, list] = {}
    seconds: dict[str, float] = {}
    skipped = 0
    for name, (n, rules) in settings.items():
        t0 = time.perf_counter()
        ours[name], skipped = [], 0
        for i, m in enumerate(melodies):
            try:
                ours[name].append(harmonize_bachbot(m, model, n_samples=n, rules=rules, seed=i))
            except InputError:  # a soprano off the 16th-note grid
                skipped += 1
        seconds[name] = time.perf_counter() - t0
    hmm = HarmonyModel.from_pretrained()
    viterbi = [harmonize(m, hmm).score for m in melodies]
    figures = {
        "valid_cross_entropy": round(ce["nll"], 4),
        "valid_tokens": int(ce["tokens"]),
        "anchor_bachbot": 0.477,
        "harmonized": len(ours["rules_best_of_16"]),
        "skipped_off_grid": skipped,
        "seconds_per_harmonization": {k: round(seconds[k] / max(1, len(ours[k])), 2) for k in ours},
        "violations_per_100_beats": {
            **{f"bachbot_{k}": rounded(violations_of_set(v)["per_100_beats"]) for k, v in ours.items()},
            "bach": rounded(violations_of_set(test)["per_100_beats"]),
            "hmm_viterbi": rounded(violations_of_set(viterbi)["per_100_beats"]),
        },
    }
    write_result("bachbot", figures, command="python benchmarks/bachbot.py")


if __name__ == "__main__":
    main()
