"""The SATB grid of JSB Chorales / Coconet: four pitches (soprano, alto, tenor, bass) per 16th-note step.

Tokens are serialized step by step, soprano first — the layout of the Music Transformer's JSB experiment.
Id 0 is a silent voice (-1 in the benchmark files), id p + 1 is MIDI pitch p. Held and repeated notes
are not told apart, as in the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.core.score import Note, Part, Score
from cadenza.encodings.base import EncodingError

STEP_QL = 0.25  # one 16th note in quarter lengths
VOICE_NAMES = ("soprano", "alto", "tenor", "bass")


def grid_to_score(grid: list[list[int]], *, title: str = "", source: str = "") -> Score:
    """A [steps][voices] pitch grid on 16th notes to a Score: runs of one pitch become one held note."""
    parts = []
    n_voices = len(grid[0]) if grid else 4
    for v in range(n_voices):
        notes: list[Note] = []
        start = 0
        for i in range(1, len(grid) + 1):
            if i == len(grid) or grid[i][v] != grid[start][v]:
                pitch = grid[start][v]
                if pitch >= 0:
                    notes.append(Note(int(pitch), start * STEP_QL, (i - start) * STEP_QL))
                start = i
        name = VOICE_NAMES[v] if n_voices == 4 else f"voice {v + 1}"
        parts.append(Part(tuple(notes), name=name, program=52))
    return Score(tuple(parts), title=title, source=source)


@dataclass(frozen=True)
class SATBGrid:
    n_voices: int = 4
    name: str = "satb-grid"

    @property
    def vocab(self) -> list[str]:
        return ["rest"] + [str(p) for p in range(128)]

    def grid(self, score: Score) -> list[list[int]]:
        """[steps][voices] MIDI pitches (-1 silent), sampling each voice at every 16th step.

        Raises:
            EncodingError: not exactly `n_voices` parts, or a note that starts off the grid.
        """
        name = score.source or score.title or "score"
        if len(score.parts) != self.n_voices:
            raise EncodingError(f"{name}: {len(score.parts)} parts, the SATB grid needs {self.n_voices}")
        n_steps = round(score.end / STEP_QL + 1e-6)
        grid = [[-1] * self.n_voices for _ in range(n_steps)]
        for v, part in enumerate(score.parts):
            for n in part.notes:
                a, b = n.onset / STEP_QL, n.offset / STEP_QL
                if abs(a - round(a)) > 1e-6:
                    raise EncodingError(f"{name}: note at {n.onset} is off the 16th-note grid")
                for step in range(round(a), min(n_steps, round(b))):
                    grid[step][v] = max(grid[step][v], n.pitch)  # a divided voice keeps its upper note
        return grid

    def encode(self, score: Score) -> list[int]:
        return [p + 1 for step in self.grid(score) for p in step]

    def decode(self, ids: list[int]) -> Score:
        if len(ids) % self.n_voices:
            raise EncodingError(f"{len(ids)} tokens is not a whole number of {self.n_voices}-voice steps")
        grid = [[i - 1 for i in ids[k : k + self.n_voices]] for k in range(0, len(ids), self.n_voices)]
        return grid_to_score(grid)
