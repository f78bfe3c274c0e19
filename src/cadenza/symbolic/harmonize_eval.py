"""Harmonizers against Bach: soprano in, chord per beat out, compared with the chorale's own chords.

Accuracy counts the beats whose predicted chord has the root and quality of the chorale's chord (labelled by
`label_beats`), over all beats the chorale sounds. Each method also reports its seconds per melody.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from cadenza.core.score import Score, ScoreError
from cadenza.symbolic.chords import Chord, label_beats, slot_origin, vocabulary
from cadenza.symbolic.genetic import CourseHarmonizer, GAConfig, course_chords_in_key, ga_harmonize
from cadenza.symbolic.harmonize import HarmonyModel, chord_accuracy, harmonize, phrase_ends, slot_melody

METHODS = ("viterbi", "ga", "ga-plain", "course")
# the generational GA alone (the memetic GA's predecessor), for comparison
PLAIN_GA = GAConfig(population=96, generations=300, block_mutation=0.0, local_search=False, stall=None)


def _predict(
    method: str, s: Score, model: HarmonyModel, ga: GAConfig, course: CourseHarmonizer, gaps: list[float]
) -> list[Chord | None]:
    assert s.key is not None
    if method == "viterbi":
        return list(harmonize(s, model, key=s.key).chords)
    if method in ("ga", "ga-plain"):
        cfg = ga if method == "ga" else replace(PLAIN_GA, seed=ga.seed)
        result, log = ga_harmonize(s, model, key=s.key, cfg=cfg)
        beat = s.time_signature.beat_length
        m, ends = slot_melody(s, s.key, beat), phrase_ends(s, beat)
        optimum = model.total_score(model.viterbi(m, ends, s.key.mode), m, ends, s.key.mode)
        gaps.append((optimum - log.best_fitness) / abs(optimum))
        return list(result.chords)
    # the course: one C-major chord per 4 quarters from the first note, whatever the key and meter
    chords = course_chords_in_key(course.harmonize(s), s.key)
    beat = s.time_signature.beat_length
    origin = slot_origin(s, beat)
    n = len(label_beats(s, s.key))
    out: list[Chord | None] = []
    for b in range(n):
        k = int((origin + b * beat - s.melody().notes[0].onset) // 4)
        out.append(chords[k] if 0 <= k < len(chords) else None)
    return out


def evaluate_harmonizers(
    model: HarmonyModel,
    chorales: Sequence[Score],
    methods: Sequence[str] = METHODS,
    *,
    ga: GAConfig | None = None,
    course: CourseHarmonizer | None = None,
) -> dict[str, dict[str, float]]:
    """{method: {"accuracy", "seconds_per_melody"}} plus "always_tonic" as a floor, on four-part chorales; the GAs
    also report their gap to the exact optimum (mean, max, share of melodies at it). "ga" is `ga` (default: the
    memetic GA at its defaults), "ga-plain" the generational GA without local search."""
    ga, course = ga or GAConfig(), course or CourseHarmonizer()
    pieces = [s for s in chorales if len(s.parts) >= 4 and s.key is not None]
    if not pieces:
        raise ScoreError("no four-part chorale with a key to evaluate on")
    refs = [label_beats(s, s.key) for s in pieces]  # type: ignore[arg-type]
    out: dict[str, dict[str, float]] = {}
    for method in methods:
        hits = total = 0
        gaps: list[float] = []
        t0 = time.perf_counter()
        for s, ref in zip(pieces, refs):
            a, b = chord_accuracy(_predict(method, s, model, ga, course, gaps), ref)
            hits, total = hits + a, total + b
        out[method] = {
            "accuracy": round(hits / total, 4),
            "seconds_per_melody": round((time.perf_counter() - t0) / len(pieces), 5),
        }
        if gaps:  # how far the GA's best stays below the exact optimum, relative, per melody
            out[method] |= {
                "mean_gap_to_optimum": round(sum(gaps) / len(gaps), 6),
                "max_gap_to_optimum": round(max(gaps), 6),
                "share_at_optimum": round(sum(g < 1e-9 for g in gaps) / len(gaps), 4),
            }
    beats = sum(sum(c is not None for c in r) for r in refs)
    tonic_hits = 0
    for s, r in zip(pieces, refs):
        assert s.key is not None
        tonic_hits += chord_accuracy([vocabulary(s.key.mode)[0]] * len(r), r)[0]
    out["always_tonic"] = {"accuracy": round(tonic_hits / beats, 4)}
    out["melodies"] = {"count": len(pieces), "beats": beats}
    return out
