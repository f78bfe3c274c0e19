"""File formats <-> Score. The only package that knows file formats.

`read(path)` returns every score in a file (an ABC tune book holds many); `read_score(path)` the first.
`write(score, path)` dispatches on the suffix.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.errors import InputError, ScoreError

if TYPE_CHECKING:
    from cadenza.core.score import Score
    from cadenza.io.abc import read_abc, write_abc
    from cadenza.io.midi import read_midi, write_midi

MIDI_SUFFIXES = (".mid", ".midi")
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
ABC_SUFFIXES = (".abc",)
KERN_SUFFIXES = (".krn",)
READ_SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES + ABC_SUFFIXES + KERN_SUFFIXES
WRITE_SUFFIXES = MIDI_SUFFIXES + (".xml", ".musicxml", ".mxl") + ABC_SUFFIXES


def _read_music21(p: Path, fmt: str) -> list[Score]:
    from music21 import converter

    from cadenza.io.m21 import from_music21

    if not p.is_file():
        raise InputError(p, "no such file")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stream = converter.parse(str(p), format=fmt, forceSource=True)
    except Exception as e:
        raise InputError(p, f"not a readable {fmt} file ({type(e).__name__}: {str(e)[:100]})") from None
    streams = list(stream.scores) if hasattr(stream, "scores") else [stream]
    try:
        scores = [from_music21(s, source=str(p)) for s in streams]
    except ScoreError as e:
        raise InputError(p, str(e).split(": ", 1)[-1]) from None
    scores = [s if s.title else s.replace(title=p.stem) for s in scores if s.n_notes]
    if not scores:
        raise InputError(p, "no notes")
    return scores


def read(path: str | Path) -> list[Score]:
    """Read every score of a MIDI, MusicXML (.xml/.mxl), ABC or Humdrum kern file.

    Raises:
        InputError: missing, empty, corrupt or unsupported file (the message names the file).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from cadenza.io.midi import read_midi

        return [read_midi(p)]
    if suffix in ABC_SUFFIXES:
        from cadenza.io.abc import read_abc

        return read_abc(p)
    if suffix in MUSICXML_SUFFIXES:
        return _read_music21(p, "musicxml")
    if suffix in KERN_SUFFIXES:
        return _read_music21(p, "humdrum")
    raise InputError(p, f"unsupported file type {suffix or '(none)'} (readable: {', '.join(READ_SUFFIXES)})")


def read_score(path: str | Path) -> Score:
    """Read the first score of a file."""
    return read(path)[0]


def write_musicxml(score: Score, path: str | Path) -> None:
    """Write MusicXML (.xml/.musicxml uncompressed, .mxl compressed) through music21, atomically."""
    from cadenza.io.files import atomic_path
    from cadenza.io.m21 import to_music21

    if score.n_notes == 0:
        raise ScoreError(f"{path}: refusing to write a score with no notes")
    stream = to_music21(score)
    fmt = "mxl" if str(path).lower().endswith(".mxl") else "musicxml"
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream.write(fmt, fp=str(tmp))


def write(score: Score, path: str | Path) -> None:
    """Write `score` to MIDI, MusicXML or ABC according to the suffix of `path`."""
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from cadenza.io.midi import write_midi

        write_midi(score, path)
    elif suffix in ABC_SUFFIXES:
        from cadenza.io.abc import write_abc

        write_abc(score, path)
    elif suffix in (".xml", ".musicxml", ".mxl"):
        write_musicxml(score, path)
    else:
        raise InputError(path, f"cannot write {suffix or '(no suffix)'} (writable: {', '.join(WRITE_SUFFIXES)})")


_LAZY = {"read_midi": "cadenza.io.midi", "write_midi": "cadenza.io.midi", "read_abc": "cadenza.io.abc",
         "write_abc": "cadenza.io.abc"}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The format modules load on first use: importing `cadenza.io` (or `cadenza.io.files`) stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cadenza.io' has no attribute {name!r}")


__all__ = ["read", "read_score", "write", "read_midi", "write_midi", "read_abc", "write_abc", "write_musicxml"]
