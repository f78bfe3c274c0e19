"""ABC text as characters: the encoding of character-level ABC language models."""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.core.score import Score
from cadenza.encodings.base import EncodingError
from cadenza.io.abc import parse_abc_tune, write_abc_text

_CHARS = ["\n"] + [chr(c) for c in range(32, 127)]


@dataclass(frozen=True)
class ABCText:
    """Score <-> the characters of its ABC text (printable ASCII and newline)."""

    name: str = "abc-text"

    @property
    def vocab(self) -> list[str]:
        return list(_CHARS)

    def encode_text(self, text: str) -> list[int]:
        index = {c: i for i, c in enumerate(_CHARS)}
        bad = sorted({c for c in text if c not in index})
        if bad:
            raise EncodingError(f"characters outside the ABC vocabulary: {''.join(bad)!r}")
        return [index[c] for c in text]

    def decode_text(self, ids: list[int]) -> str:
        return "".join(_CHARS[i] for i in ids)

    def encode(self, score: Score) -> list[int]:
        return self.encode_text(write_abc_text(score))

    def decode(self, ids: list[int]) -> Score:
        return parse_abc_tune(self.decode_text(ids))
