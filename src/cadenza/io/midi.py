"""MIDI files <-> Score, through symusic (a C++ MIDI library, ~100x faster than music21 here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import symusic

from cadenza.core.score import Key, Note, Part, Score, ScoreError, TimeSignature
from cadenza.errors import InputError
from cadenza.io.files import atomic_path

TICKS_PER_QUARTER = 480

# Number of sharps (negative: flats) of the major key on each tonic pitch class.
_MAJOR_SHARPS = {0: 0, 7: 1, 2: 2, 9: 3, 4: 4, 11: 5, 6: 6, 1: -5, 8: -4, 3: -3, 10: -2, 5: -1}
_SHARPS_TO_MAJOR = {v: k for k, v in _MAJOR_SHARPS.items()} | {7: 1, -6: 6, -7: 11}


def key_to_sharps(key: Key) -> int:
    """Number of sharps (negative for flats) in the key signature of `key`."""
    major_tonic = key.tonic if key.mode == "major" else (key.tonic + 3) % 12
    return _MAJOR_SHARPS[major_tonic]


def sharps_to_key(sharps: int, minor: bool) -> Key:
    major_tonic = _SHARPS_TO_MAJOR[sharps]
    return Key((major_tonic - 3) % 12, "minor") if minor else Key(major_tonic, "major")


def _q(x: float) -> float:
    """Quantize a time to the MIDI tick grid, in quarter lengths, to drop float noise."""
    return round(x * TICKS_PER_QUARTER) / TICKS_PER_QUARTER


def read_midi(path: str | Path) -> Score:
    """Read a Standard MIDI File. Each non-empty track becomes a part.

    Raises:
        InputError: the file is missing, empty, corrupt or has no notes.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file")
    try:
        midi = symusic.Score(str(p), ttype="quarter")
    except Exception as e:  # symusic raises plain RuntimeError/ValueError on corrupt files
        raise InputError(p, f"not a readable MIDI file ({str(e).strip() or type(e).__name__})") from None
    score = from_symusic(midi, title=p.stem, source=str(p))
    if score.n_notes == 0:
        raise InputError(p, "MIDI file has no notes")
    return score


def from_symusic(midi: Any, *, title: str = "", source: str = "") -> Score:
    """Convert a symusic score (any time unit) to a Score; empty tracks are dropped.

    symusic types are typed `Any`: its factory classes are not valid static types.
    """
    if "Quarter" not in str(midi.ttype):
        midi = midi.to("quarter")
    parts = []
    for track in midi.tracks:
        notes = tuple(
            Note(int(n.pitch), _q(n.time), _q(n.duration), int(n.velocity) or 1) for n in track.notes if n.duration > 0
        )
        if notes:
            parts.append(Part(notes, name=str(track.name), program=int(track.program), is_drum=bool(track.is_drum)))
    ts = TimeSignature()
    if len(midi.time_signatures):
        t = midi.time_signatures[0]
        try:
            ts = TimeSignature(int(t.numerator), int(t.denominator))
        except ScoreError:
            ts = TimeSignature()
    key = None
    if len(midi.key_signatures):
        k = midi.key_signatures[0]
        if -7 <= k.key <= 7:
            key = sharps_to_key(int(k.key), bool(k.tonality))
    tempo = float(midi.tempos[0].qpm) if len(midi.tempos) else 120.0
    return Score(tuple(parts), key=key, time_signature=ts, tempo_bpm=round(tempo, 3), title=title, source=source)


def to_symusic(score: Score) -> Any:
    """Convert a Score to a symusic score in ticks (480 per quarter)."""
    tpq = TICKS_PER_QUARTER
    out: Any = symusic.Score(tpq)
    ts = score.time_signature
    out.time_signatures.append(symusic.TimeSignature(0, ts.numerator, ts.denominator))
    if score.key is not None:
        out.key_signatures.append(symusic.KeySignature(0, key_to_sharps(score.key), int(score.key.mode == "minor")))
    out.tempos.append(symusic.Tempo(0, qpm=float(score.tempo_bpm)))
    for part in score.parts:
        track: Any = symusic.Track(part.name, part.program, part.is_drum)
        for n in part.notes:
            start = round(n.onset * tpq)
            dur = max(1, round(n.duration * tpq))
            track.notes.append(symusic.Note(start, dur, int(n.pitch), int(n.velocity)))
        out.tracks.append(track)
    return out


def write_midi(score: Score, path: str | Path) -> None:
    """Write `score` as a type-1 MIDI file (one track per part), atomically."""
    if score.n_notes == 0:
        raise ScoreError(f"{path}: refusing to write a score with no notes")
    with atomic_path(path) as tmp:
        to_symusic(score).dump_midi(str(tmp))
