"""The 16th-note melody grid of the course's LSTM (Velardo, "Generating melodies with LSTM nets").

One symbol per 16th-note step: a MIDI pitch ("60") where a note starts, "r" where a rest starts, "_" while
the previous note or rest holds; "/" separates pieces in a training stream. Example (4/4, one bar):
`60 _ _ _ 62 _ 64 _ r _ _ _ 67 _ _ _`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.core.score import Key, Note, Part, Score, TimeSignature
from cadenza.encodings.base import EncodingError

STEP_QL = 0.25
HOLD, REST, SEP = "_", "r", "/"
VOCAB = (SEP, HOLD, REST, *(str(p) for p in range(128)))
_INDEX = {sym: i for i, sym in enumerate(VOCAB)}


@dataclass(frozen=True)
class MelodyGrid:
    """Melody <-> symbols on a 16th-note grid. The vocabulary is fixed: "/", "_", "r" and MIDI 0..127."""

    name: str = "melody-grid"

    @property
    def vocab(self) -> list[str]:
        return list(VOCAB)

    def token_id(self, symbol: str) -> int:
        return _INDEX[symbol]

    def symbols(self, score: Score) -> list[str]:
        """The grid symbols of the score's melody (its first part), from time 0 to the last note's end.

        Raises:
            EncodingError: overlapping notes, or an onset or duration off the 16th-note grid.
        """
        part = score.melody()
        if not part.notes:
            raise EncodingError(f"{score.source or score.title or 'score'}: empty melody")
        if not part.is_monophonic():
            raise EncodingError(f"{score.source or score.title or 'score'}: melody has overlapping notes")
        out: list[str] = []
        for n in part.notes:
            start, steps = n.onset / STEP_QL, n.duration / STEP_QL
            if abs(start - round(start)) > 1e-6 or abs(steps - round(steps)) > 1e-6 or round(steps) == 0:
                raise EncodingError(
                    f"{score.source or score.title or 'score'}: note at {n.onset} (length {n.duration}) "
                    "is off the 16th-note grid"
                )
            gap = round(start) - len(out)
            if gap > 0:
                out += [REST] + [HOLD] * (gap - 1)
            out += [str(n.pitch)] + [HOLD] * (round(steps) - 1)
        return out

    def encode(self, score: Score) -> list[int]:
        return [self.token_id(s) for s in self.symbols(score)]

    def decode(self, ids: list[int], *, time_signature: TimeSignature | None = None, key: Key | None = None) -> Score:
        """Symbols back to a one-part Score; decoding stops at the first "/"."""
        vocab = VOCAB
        notes: list[Note] = []
        current: tuple[int, int] | None = None  # (pitch, start step) of the sounding note
        step = 0
        for i in ids:
            sym = vocab[i]
            if sym == SEP:
                break
            if sym != HOLD:
                if current is not None:
                    notes.append(Note(current[0], current[1] * STEP_QL, (step - current[1]) * STEP_QL))
                current = None if sym == REST else (int(sym), step)
            step += 1
        if current is not None:
            notes.append(Note(current[0], current[1] * STEP_QL, (step - current[1]) * STEP_QL))
        return Score((Part(tuple(notes), name="melody"),), key=key, time_signature=time_signature or TimeSignature())

    def encode_corpus(self, scores: list[Score], *, skip_bad: bool = True) -> tuple[list[int], int]:
        """One training stream: pieces joined by "/" separators. Returns (ids, number of skipped pieces)."""
        out: list[int] = []
        skipped = 0
        sep = self.token_id(SEP)
        for s in scores:
            try:
                ids = self.encode(s)
            except EncodingError:
                if not skip_bad:
                    raise
                skipped += 1
                continue
            out += ids + [sep]
        return out, skipped
