"""Harmonizers against Bach: soprano in, chord per beat out, compared with the chorale's own chords.

Accuracy counts the beats whose predicted chord has the root and quality of the chorale's chord (labelled by
`label_beats`), over all beats the chorale sounds. Each method also reports its seconds per melody.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cadenza.core.score import Score, ScoreError
from cadenza.symbolic.chords import Chord, label_beats, slot_origin, vocabulary
from cadenza.symbolic.genetic import CourseHarmonizer, GAConfig, course_chords_in_key, ga_harmonize
from cadenza.symbolic.harmonize import (
    Harmonization,
    HarmonyModel,
    HarmonyProblem,
    chord_accuracy,
    harmonize,
)

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
        problem = HarmonyProblem.of(s, model, key=s.key)
        optimum = problem.score(model, problem.viterbi(model))
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


# ------------------------------------------------------------------------------------------------ lead sheets

LEADSHEET_METHODS = ("viterbi", "ga", "tonic")


def complete_share(h: Harmonization) -> float:
    """Share of chord slots where the four voices together (the melody counted) hold the chord's root and
    third, and its fifth or seventh: the chord sounds complete."""
    parts = h.score.parts
    origin = slot_origin(h.score, h.slot_ql)
    full = total = 0
    for k, chord in enumerate(h.chords):
        t = origin + k * h.slot_ql
        pcs = {n.pitch % 12 for p in parts for n in p.notes if n.onset <= t + 1e-9 < n.offset - 1e-9}
        if len(parts) < 4 or not all(any(n.onset <= t + 1e-9 < n.offset - 1e-9 for n in p.notes) for p in parts[1:]):
            continue  # a slot the voicing leaves out (the melody rests)
        tones = chord.pitch_classes(h.key.tonic)
        total += 1
        full += tones[0] in pcs and tones[1] in pcs and any(x in pcs for x in tones[2:])
    return full / max(total, 1)


def oscillations(h: Harmonization) -> int:
    """Inner and bass voices that swing back and forth by a step or less, x-y-x-y over four notes."""
    count = 0
    for part in h.score.parts[1:]:
        p = [n.pitch for n in part.notes]
        count += sum(p[i] == p[i + 2] and p[i + 1] == p[i + 3] and 0 < abs(p[i] - p[i + 1]) <= 2
                     for i in range(len(p) - 3))  # fmt: skip
    return count


def harmonize_with(method: str, s: Score, model: HarmonyModel, ga: GAConfig) -> tuple[Harmonization, float | None]:
    """One lead-sheet harmonization by `method` ("viterbi", "ga", "ga-plain", "tonic"), and the GA's relative
    gap to the exact optimum (None for the others)."""
    problem = HarmonyProblem.of(s, model, key=s.key)
    if method == "tonic":  # the floor: the tonic triad under every slot, voiced the same way
        return problem.solution([0] * len(problem.pitches)), None
    if method == "viterbi":
        return problem.solution(problem.viterbi(model)), None
    cfg = ga if method == "ga" else replace(PLAIN_GA, seed=ga.seed)
    h, r = ga_harmonize(s, model, key=problem.key, cfg=cfg)
    optimum = problem.score(model, problem.viterbi(model))
    return h, (optimum - r.best_fitness) / abs(optimum)


def evaluate_leadsheets(
    model: HarmonyModel,
    sheets: Sequence[Score],
    methods: Sequence[str] = LEADSHEET_METHODS,
    *,
    ga: GAConfig | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Harmonizers against the human chord symbols of lead sheets, by the chords their outputs sound.

    Per method: the accuracy triplet per beat of the chord sounded by all four voices (`sounded_chords`)
    against the symbol in effect (`chord_symbol_beats`): root, root + triad, root + quality; the same for the
    chosen labels; the share of complete chords; voice-leading violations and oscillating voices per 100
    beats; seconds per melody; for the GAs their gap to the optimum.
    """
    from tqdm import tqdm

    from cadenza.evaluate.voice_leading import violations
    from cadenza.symbolic.leadsheet import accuracy_triplet, chord_symbol_beats, sounded_chords

    ga = ga or GAConfig()
    pieces = [s for s in sheets if s.chords and s.melody().notes]
    if not pieces:
        raise ScoreError("no lead sheet with chord symbols and a melody to evaluate on")
    refs = [chord_symbol_beats(s) for s in pieces]
    out: dict[str, Any] = {}
    for method in methods:
        sounded = dict.fromkeys(("beats", "root", "root_triad", "root_quality"), 0)
        labels = dict(sounded)
        gaps: list[float] = []
        complete: list[float] = []
        vl = dict.fromkeys(("parallel_fifths", "parallel_octaves", "oscillations"), 0.0)
        beats = 0.0
        seconds = 0.0
        for s, ref in tqdm(list(zip(pieces, refs)), desc=method, disable=not progress, leave=False):
            t0 = time.perf_counter()
            h, gap = harmonize_with(method, s, model, ga)
            seconds += time.perf_counter() - t0
            if gap is not None:
                gaps.append(gap)
            beat = s.time_signature.beat_length
            for k, v in accuracy_triplet(sounded_chords(h.score, beat), ref).items():
                sounded[k] += v
            per_beat = _labels_per_beat(h, beat, len(ref))
            for k, v in accuracy_triplet(per_beat, ref).items():
                labels[k] += v
            complete.append(complete_share(h))
            counts = violations(h.score)["counts"]
            vl["parallel_fifths"] += counts["parallel_fifths"]
            vl["parallel_octaves"] += counts["parallel_octaves"]
            vl["oscillations"] += oscillations(h)
            beats += h.score.end / beat
        row: dict[str, Any] = {
            "sounded": {k: round(sounded[k] / sounded["beats"], 4) for k in ("root", "root_triad", "root_quality")},
            "labels": {k: round(labels[k] / labels["beats"], 4) for k in ("root", "root_triad", "root_quality")},
            "complete_chords": round(sum(complete) / len(complete), 4),
            "per_100_beats": {k: round(100 * v / beats, 2) for k, v in vl.items()},
            "seconds_per_melody": round(seconds / len(pieces), 4),
        }
        if gaps:
            row |= {"mean_gap_to_optimum": round(sum(gaps) / len(gaps), 6), "max_gap_to_optimum": round(max(gaps), 6),
                    "share_at_optimum": round(sum(g < 1e-9 for g in gaps) / len(gaps), 4)}  # fmt: skip
        out[method] = row
    out["melodies"] = {"count": len(pieces), "beats": sum(sum(r is not None for r in ref) for ref in refs)}
    return out


def _labels_per_beat(h: Harmonization, beat: float, n: int) -> list[tuple[int, str] | None]:
    """The chosen chord labels (absolute root, quality) on the beats of the reference."""
    origin = slot_origin(h.score, h.slot_ql)
    beat_origin = slot_origin(h.score, beat)
    out: list[tuple[int, str] | None] = []
    for b in range(n):
        k = int((beat_origin + (b + 0.5) * beat - origin) // h.slot_ql)
        c = h.chords[k] if 0 <= k < len(h.chords) else None
        out.append(None if c is None else ((h.key.tonic + c.root) % 12, c.quality))
    return out
