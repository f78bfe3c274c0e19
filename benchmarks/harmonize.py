"""Harmonizers: chord accuracy against Bach on held-out chorales (viterbi, memetic GA, plain GA, course preset) with
the GAs' gap to the exact optimum per melody; the four-part voicing beside Bach's (complete chords, parallels);
on POP909's held-out lead sheets, the chords sounded against the human symbols (root / triad / quality) for the
chorale and the pop chord models and the tonic floor; and the time
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
from cadenza.symbolic.harmonize_eval import complete_share, evaluate_harmonizers, evaluate_leadsheets, oscillations

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


def voicing_vs_bach(model: HarmonyModel, test: list[Score]) -> dict[str, object]:
    """The four-part output (Viterbi chords, default voicing) beside Bach's own chorales: complete chords,
    parallel fifths and octaves and oscillating voices per 100 beats."""
    from cadenza.evaluate.voice_leading import violations_of_set

    pieces = [s for s in test if len(s.parts) >= 4 and s.key is not None]
    outs = [harmonize(s, model, key=s.key) for s in pieces]
    ours, bach = violations_of_set([h.score for h in outs]), violations_of_set(pieces)
    beats = sum(h.score.end for h in outs)
    keep = ("parallel_fifths", "parallel_octaves", "voice_crossing")
    return {
        "complete_chords": round(sum(complete_share(h) for h in outs) / len(outs), 4),
        "cadenza_per_100_beats": {k: round(ours["per_100_beats"][k], 2) for k in keep}
        | {"oscillations": round(100 * sum(oscillations(h) for h in outs) / beats, 2)},
        "bach_per_100_beats": {k: round(bach["per_100_beats"][k], 2) for k in keep},
    }


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    model = HarmonyModel.from_pretrained()
    corpus = load_corpus("bach", progress=False)
    test = corpus.split("test")
    figures: dict[str, object] = {"accuracy": evaluate_harmonizers(model, test)}
    figures["bach_voicing"] = voicing_vs_bach(model, test)
    pop = load_corpus("pop909").split("test")
    figures["pop909_leadsheets"] = {
        "source": "POP909 (Wang et al. 2020), test split: 68 songs, melody in, hand-checked chord symbols per beat",
        "chorale model (harmony-bach)": evaluate_leadsheets(model, pop),
        "pop model (harmony-pop)": evaluate_leadsheets(HarmonyModel.from_pretrained("harmony-pop"), pop),
    }
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
    import torch

    from cadenza.symbolic.bachbot import BachBot

    torch.set_num_threads(1)
    bachbot = BachBot.from_pretrained()
    t0 = time.perf_counter()
    bachbot.harmonize(melody, seed=0)
    t_lstm = time.perf_counter() - t0
    figures["32_bars"] = {
        "viterbi_s": round(t_viterbi, 4),
        "ga_s": round(t_ga, 3),
        "ga_default": f"memetic GA sized from the melody: population {ga.population}, stopped after "
        f"{ga.generations} generations, one chord per beat (128 slots)",
        "course_s": round(t_course, 3),
        "course_default": "population 100, 1000 generations, one chord per bar (32 slots)",
        "course_over_ga": round(t_course / t_ga, 1),
        "ga_under_1s": t_ga < 1.0,
        "chorale_lstm_s": round(t_lstm, 2),
        "chorale_lstm_default": "16 samples in one batch, rule masks, the best by voice leading kept",
    }
    write_result("harmonize", figures, command="python benchmarks/harmonize.py")


if __name__ == "__main__":
    main()
