"""Markov melodies: 10-fold held-out bits per note (ours vs the course chain), training and generation speed.

usage: python benchmarks/markov.py [--corpora bach essen]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cadenza.core.score import Key
from cadenza.corpus import load_corpus
from cadenza.symbolic.markov import MarkovConfig, MarkovMelody
from cadenza.symbolic.markov_eval import cross_validate

from common import write_result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", nargs="+", default=["bach", "essen"])
    args = ap.parse_args()
    figures: dict[str, object] = {}
    for name in args.corpora:
        scores = load_corpus(name, progress=False).scores
        r = cross_validate(scores, MarkovConfig(order=4), folds=10, progress=False)
        c = r["course"]
        figures[name] = {
            "melodies": r["pieces"],
            "notes": r["notes"],
            "model_pitch_bits": r["model"]["bits_per_note"],
            "model_joint_bits": r["model"]["joint_bits_per_note"],
            "pitch_viewpoint_only_bits": r["pitch_viewpoint_only"]["bits_per_note"],
            "course_pitch_bits": "inf" if c["bits_per_note"] is None else c["bits_per_note"],
            "course_zero_probability_share": c["zero_probability_share"],
            "course_pitch_bits_on_nonzero": c["bits_per_note_on_nonzero"],
            "course_joint_zero_probability_share": c["joint"]["zero_probability_share"],
        }
        print(name, figures[name], flush=True)
    corpus = load_corpus("essen", progress=False)
    essen = corpus.scores
    shipped = MarkovMelody.from_pretrained()
    test = corpus.split("test")
    figures["shipped_model_essen_test_pitch_bits"] = round(
        float(np.concatenate([shipped.log2_probs(s) for s in test]).mean()), 4
    )
    figures["shipped_model_essen_test_melodies"] = len(test)
    t0 = time.perf_counter()
    model = MarkovMelody(MarkovConfig(order=4)).fit(essen)
    figures["train_all_essen_s"] = round(time.perf_counter() - t0, 2)
    figures["train_all_essen_melodies"] = len(essen)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(20):
        model.generate(bars=8, key=Key(2), rng=rng)
    figures["generate_8_bars_ms"] = round((time.perf_counter() - t0) / 20 * 1000, 1)
    figures["anchor_idyom_pitch_bits"] = 2.3
    write_result("markov", figures, command="python benchmarks/markov.py")


if __name__ == "__main__":
    main()
