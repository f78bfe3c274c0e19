"""Voice-leading violations of a four-part (SATB) texture, counted per 100 beats.

The textbook rules a harmonization is judged by: parallel fifths and octaves (two voices a perfect fifth or
octave apart, compound or not, moving in the same direction to another perfect fifth or octave), voice
crossing (a lower voice above a higher one), spacing (more than an octave between soprano and alto, or alto
and tenor) and range (outside the usual compass of each voice). The same counts for Bach's own chorales are
the reference: Bach breaks some rules too, so "fewer than Bach" is not the goal, "like Bach" is.

    >>> violations(score)["per_100_beats"]["parallel_fifths"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cadenza.core.score import Score

# MIDI compass per voice (soprano C4-G5, alto G3-D5, tenor C3-G4, bass E2-C4), a common textbook choice.
RANGES = ((60, 79), (55, 74), (48, 67), (40, 60))
RULES = ("parallel_fifths", "parallel_octaves", "voice_crossing", "spacing", "range")
STEP_QL = 0.25


def _chords(score: Score) -> list[tuple[float, tuple[int, ...]]]:
    """(onset, pitches S..B) at every time where any voice starts a note and all four sound."""
    parts = score.parts[:4]
    times = sorted({n.onset for p in parts for n in p.notes})
    out = []
    for t in times:
        chord = []
        for p in parts:
            sounding = [n.pitch for n in p.notes if n.onset <= t + 1e-9 < n.offset - 1e-9]
            chord.append(max(sounding) if sounding else -1)
        if min(chord) >= 0:
            out.append((t, tuple(chord)))
    return out


def violations(score: Score) -> dict[str, Any]:
    """Counts of each rule's violations and the same per 100 beats (quarter notes) of the score.

    Raises:
        ValueError: the score does not have four parts.
    """
    if len(score.parts) < 4:
        raise ValueError(f"{score.source or score.title or 'score'}: voice leading needs 4 parts")
    chords = _chords(score)
    counts = dict.fromkeys(RULES, 0)
    for _, c in chords:
        counts["voice_crossing"] += sum(c[v] < c[v + 1] for v in range(3))
        counts["spacing"] += (c[0] - c[1] > 12) + (c[1] - c[2] > 12)
        counts["range"] += sum(not lo <= p <= hi for p, (lo, hi) in zip(c, RANGES, strict=True))
    for (_, a), (_, b) in zip(chords, chords[1:], strict=False):
        for i in range(4):
            for j in range(i + 1, 4):
                if a[i] == b[i] or a[j] == b[j]:
                    continue  # a voice holds: oblique motion, no parallel
                if (a[i] - b[i] > 0) != (a[j] - b[j] > 0):
                    continue  # contrary motion
                ia, ib = (a[i] - a[j]) % 12, (b[i] - b[j]) % 12
                if ia == ib == 7:
                    counts["parallel_fifths"] += 1
                elif ia == ib == 0:
                    counts["parallel_octaves"] += 1
    beats = max(score.end, 1e-9)
    return {
        "counts": counts,
        "beats": beats,
        "chords": len(chords),
        "per_100_beats": {k: 100 * v / beats for k, v in counts.items()},
    }


def violations_of_set(scores: Sequence[Score]) -> dict[str, Any]:
    """Violations pooled over many scores (per 100 beats of all of them)."""
    counts = dict.fromkeys(RULES, 0)
    beats = 0.0
    for s in scores:
        v = violations(s)
        beats += v["beats"]
        for k in RULES:
            counts[k] += v["counts"][k]
    return {
        "pieces": len(scores),
        "beats": beats,
        "counts": counts,
        "per_100_beats": {k: 100 * v / max(beats, 1e-9) for k, v in counts.items()},
    }
