"""The `Encoding` seam: Score <-> token ids with a fixed vocabulary."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cadenza.core.score import Score, ScoreError


class EncodingError(ScoreError):
    """A score the encoding cannot represent (off-grid rhythm, pitch out of range, wrong voice count)."""


@runtime_checkable
class Encoding(Protocol):
    """Score <-> list of token ids. `decode(encode(s))` gives back `s` up to what the encoding keeps."""

    name: str

    @property
    def vocab(self) -> list[str]:
        """Token strings; a token's id is its index."""
        ...

    def encode(self, score: Score) -> list[int]: ...

    def decode(self, ids: list[int]) -> Score: ...
