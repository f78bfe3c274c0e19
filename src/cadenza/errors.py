"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2.

Every one derives from `CadenzaError`; `ScoreError` and `AudioError` are also `ValueError`s (a score or samples
that a function cannot take). This module imports nothing heavy, so the CLI can catch them before it imports
numpy or torch."""

from __future__ import annotations

from pathlib import Path


class CadenzaError(Exception):
    """Base class of every error caused by input (a file, a name, an option), not by a bug."""


class InputError(CadenzaError):
    """A file that cannot be used: unreadable, empty, corrupt, or of the wrong kind."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ScoreError(CadenzaError, ValueError):
    """A score that cannot be represented or processed (empty, unsupported meter, ...)."""


class AudioError(CadenzaError, ValueError):
    """Samples that cannot be used: NaN or Inf, no samples, a wrong shape or sample rate."""


class UnknownNameError(CadenzaError):
    """An unknown corpus, technique, instrument or preset name."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        super().__init__(f"unknown {kind} {name!r} (known: {shown})")
