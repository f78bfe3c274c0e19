"""Harmonizers: chord accuracy against Bach on held-out chorales (viterbi, memetic GA, plain GA, course preset) with
the GAs' gap to the exact optimum per melody, and the time
to harmonize a 32-bar melody on one core, GA vs the course preset (a ratio).

usage: python benchmarks/harmonize.py
"""

from __future__ import annotations

import os
import time

from cadenza.core.score import Note, Part, Score, TimeSignature
from cadenza.corpus import load_corpus
from cadenza.symbolic.genetic import CourseHarmonizer, GAConfig, ga_harmonize
from cadenza.symbolic.harmonize import HarmonyModel, harmonize
from cadenza.symbolic.harmonize_eval import evaluate_harmonizers

from common import write_result


def melody_32_bars(scores: list[Score]) -> Score:
    """Sopranos of 4/4 chorales laid end to end, cut at 32 bars (128 quarters)."""
    notes: list[Note] = []
    t = 0.0
    for s in scores:
        if s.time_signature != TimeSignature(4, 4) or s.pickup:
            continue
        for n in s.melody().notes:
            if t + n.onset + n.duration <= 128:
                notes.append(Note(n.pitch, t + n.onset, n.duration))
        t += s.end
        if t >= 128:
            break
    first = scores[0]
    return Score((Part(tuple(notes), name="melody"),), key=first.key, time_signature=TimeSignature(4, 4))


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    model = HarmonyModel.from_pretrained()
    corpus = load_corpus("bach", progress=False)
    figures: dict[str, object] = {"accuracy": evaluate_harmonizers(model, corpus.split("test"))}
    c_major = [s for s in corpus.split("train") if s.key is not None and s.key.name == "C major"]
    melody = melody_32_bars(c_major)
    assert melody.end >= 124, melody.end
    t0 = time.perf_counter()
    harmonize(melody, model)
    t_viterbi = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ga = ga_harmonize(melody, model, cfg=GAConfig())
    t_ga = time.perf_counter() - t0
    t0 = time.perf_counter()
    CourseHarmonizer().harmonize(melody)
    t_course = time.perf_counter() - t0
    figures["32_bars"] = {
        "viterbi_s": round(t_viterbi, 4),
        "ga_s": round(t_ga, 3),
        "ga_default": f"memetic GA sized from the melody: population {ga.population}, stopped after "
        f"{ga.generations} generations, one chord per beat (128 slots)",
        "course_s": round(t_course, 3),
        "course_default": "population 100, 1000 generations, one chord per bar (32 slots)",
        "course_over_ga": round(t_course / t_ga, 1),
        "ga_under_1s": t_ga < 1.0,
    }
    write_result("harmonize", figures, command="python benchmarks/harmonize.py")


if __name__ == "__main__":
    main()
