"""Key normalization (to C major / A minor and back) and transposition as data augmentation."""

from __future__ import annotations

from collections.abc import Iterator

from cadenza.core.score import Score, ScoreError
from cadenza.evaluate.key import estimate_key


def shift_to_c(score: Score) -> int:
    """Semitones that move the score's key to C major or A minor by the smallest step (-6..+5)."""
    key = score.key or estimate_key(score)
    target = 0 if key.mode == "major" else 9
    shift = (target - key.tonic) % 12
    return shift - 12 if shift > 5 else shift


def to_c(score: Score) -> tuple[Score, int]:
    """Transpose to C major / A minor. Returns (transposed score, semitones applied); undo with `-semitones`."""
    shift = shift_to_c(score)
    if score.key is None:
        score = score.replace(key=estimate_key(score))
    return score.transpose(shift), shift


def transpositions(
    score: Score, semitones: range = range(-5, 7), pitch_range: tuple[int, int] = (0, 127)
) -> Iterator[Score]:
    """Every transposition of `score` in `semitones` whose notes all stay inside `pitch_range`."""
    lo, hi = score.pitch_range()
    for s in semitones:
        if pitch_range[0] <= lo + s and hi + s <= pitch_range[1]:
            try:
                yield score.transpose(s)
            except ScoreError:
                continue
