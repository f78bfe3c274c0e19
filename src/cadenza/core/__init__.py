"""Canonical types shared by every part of cadenza (nothing heavy is imported here)."""

from cadenza.core.score import ChordSymbol, Key, Note, Part, Score, ScoreError, TimeSignature, make_score

__all__ = ["ChordSymbol", "Key", "Note", "Part", "Score", "ScoreError", "TimeSignature", "make_score"]
