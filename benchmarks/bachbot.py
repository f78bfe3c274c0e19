"""BachBot-style chorale LSTM: validation cross-entropy, and voice leading of its harmonizations.

1. Cross-entropy per token (nats) of the shipped models/bachbot on the valid split of the bach corpus (BachBot
   reports 0.477 on its own split).
2. The soprano of every held-out (test split) chorale harmonized by constrained decoding; voice-leading
   violations per 100 beats (parallel fifths and octaves, crossing, spacing, range) next to the same counts
   for Bach's own test chorales and for the HMM + Viterbi harmonizer of `cadenza harmonize --method viterbi`.

usage: python benchmarks/bachbot.py
"""

from __future__ import annotations

import time

import torch

from cadenza.corpus import load_corpus
from cadenza.evaluate.voice_leading import violations_of_set
from cadenza.paths import shipped_model
from cadenza.symbolic.bachbot import chorale_sequences, evaluate_chorales, harmonize_bachbot, load_bachbot
from cadenza.symbolic.harmonize import HarmonyModel, harmonize

from common import write_result


def rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in d.items()}


def main() -> None:
    torch.set_num_threads(2)
    corpus = load_corpus("bach")
    model = load_bachbot()
    valid, _ = chorale_sequences(corpus.split("valid"))
    ce = evaluate_chorales(model, valid)
    test = [s for s in corpus.split("test") if len(s.parts) == 4]
    melodies = [s.replace(parts=(s.parts[0],)) for s in test]
    t0 = time.perf_counter()
    ours, skipped = [], 0
    for i, m in enumerate(melodies):
        try:
            ours.append(harmonize_bachbot(m, model, seed=i))
        except Exception:  # a soprano off the 16th-note grid
            skipped += 1
    seconds = time.perf_counter() - t0
    hmm = HarmonyModel.load(shipped_model("harmony-bach", "model.json"))
    viterbi = [harmonize(m, hmm).score for m in melodies]
    figures = {
        "valid_cross_entropy": round(ce["nll"], 4),
        "valid_tokens": int(ce["tokens"]),
        "anchor_bachbot": 0.477,
        "harmonized": len(ours),
        "skipped_off_grid": skipped,
        "seconds_per_harmonization": round(seconds / max(1, len(ours)), 2),
        "violations_per_100_beats": {
            "bachbot": rounded(violations_of_set(ours)["per_100_beats"]),
            "bach": rounded(violations_of_set(test)["per_100_beats"]),
            "hmm_viterbi": rounded(violations_of_set(viterbi)["per_100_beats"]),
        },
    }
    write_result("bachbot", figures, command="python benchmarks/bachbot.py")


if __name__ == "__main__":
    main()
