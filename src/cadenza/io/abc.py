"""ABC notation: read tune books through music21, write ABC 2.1 text with our own writer.

The writer spells pitches against the key signature, keeps ABC's rule that an accidental holds to the
end of the bar, splits notes across bar lines with ties, and writes one `V:` voice per part.
Reference: the ABC standard 2.1, https://abcnotation.com/wiki/abc:standard:v2.1
"""

from __future__ import annotations

import re
import warnings
from fractions import Fraction
from pathlib import Path

from cadenza.core.score import Key, Score, ScoreError
from cadenza.errors import InputError
from cadenza.evaluate.key import estimate_key
from cadenza.io.files import write_text_atomic
from cadenza.io.midi import key_to_sharps
from cadenza.io.notation import bar_bounds, bars_of_voice, frac, split_voices

_LETTERS = "CDEFGAB"
_NATURAL_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_ORDER = "FCGDAEB"
_FLAT_ORDER = "BEADGCF"
_MAJOR_NAMES = {0: "C", 7: "G", 2: "D", 9: "A", 4: "E", 11: "B", 6: "F#", 1: "Db", 8: "Ab", 3: "Eb", 10: "Bb", 5: "F"}
_MINOR_NAMES = {9: "A", 4: "E", 11: "B", 6: "F#", 1: "C#", 8: "G#", 3: "Eb", 10: "Bb", 5: "F", 0: "C", 7: "G", 2: "D"}


def split_tunes(text: str) -> list[str]:
    """Split an ABC tune book into tunes (each starting at an `X:` line), dropping the file header."""
    starts = [m.start() for m in re.finditer(r"(?m)^X:", text)]
    if not starts:
        return [text] if text.strip() else []
    return [text[a:b].strip() + "\n" for a, b in zip(starts, starts[1:] + [len(text)])]


def parse_abc_tune(tune: str, source: str = "") -> Score:
    """Parse one ABC tune (text starting with `X:`) into a Score with music21's ABC reader."""
    from music21 import converter

    from cadenza.io.m21 import from_music21

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stream = converter.parse(tune, format="abc")
    except Exception as e:
        raise InputError(source or "<abc>", f"ABC does not parse ({type(e).__name__}: {str(e)[:120]})") from None
    if hasattr(stream, "scores"):  # an Opus with one score
        scores = list(stream.scores)
        if not scores:
            raise InputError(source or "<abc>", "ABC tune has no music")
        stream = scores[0]
    score = from_music21(stream, source=source)
    if score.n_notes == 0:
        raise InputError(source or "<abc>", "ABC tune has no notes")
    score = _mode_from_signature(score, tune)
    if not score.title:
        m = re.search(r"(?m)^T:\s*(.+)$", tune)
        score = score.replace(title=m.group(1).strip() if m else "")
    return score


def _mode_from_signature(score: Score, tune: str) -> Score:
    """A `K:` field without a mode ("K: G") often only gives the key signature (the Essen collection writes
    its minor tunes so): choose between the major key and its relative minor by key-profile correlation."""
    m = re.search(r"(?m)^K:\s*([A-Ga-g][#b]?)([^\S\n]*)([A-Za-z]*)", tune)
    if m is None or m.group(3) or score.key is None or score.key.mode != "major":
        return score
    candidates = [score.key, Key(score.key.tonic - 3, "minor")]
    return score.replace(key=estimate_key(score, candidates=candidates))


def read_abc(path: str | Path) -> list[Score]:
    """Read every tune of an ABC file (a tune book gives many scores).

    Tunes that fail to parse are skipped (`read_abc_report` says which); if none parses, the file is an error.
    """
    return read_abc_report(path)[0]


def read_abc_report(path: str | Path) -> tuple[list[Score], list[tuple[str, str]]]:
    """Like `read_abc`, and also the tunes that failed, as (source "file#index", reason) pairs."""
    p = Path(path)
    text = _read_text(p)
    scores: list[Score] = []
    failed: list[tuple[str, str]] = []
    for i, tune in enumerate(split_tunes(text)):
        try:
            scores.append(parse_abc_tune(tune, source=f"{p}#{i}"))
        except (InputError, ScoreError) as e:
            failed.append((f"{p}#{i}", str(e).split(": ", 1)[-1]))
    if not scores:
        raise InputError(p, failed[0][1] if failed else "no tunes (no X: line and no notes)")
    return scores, failed


def _read_text(p: Path) -> str:
    if not p.is_file():
        raise InputError(p, "no such file")
    data = p.read_bytes()
    if not data.strip():
        raise InputError(p, "empty file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# ----------------------------------------------------------------------------------------------- writer


def _key_alterations(key: Key | None) -> dict[str, int]:
    """The alteration (+1 sharp, -1 flat) the key signature gives each letter."""
    alt = dict.fromkeys(_LETTERS, 0)
    if key is None:
        return alt
    sharps = key_to_sharps(key)
    for letter in _SHARP_ORDER[:sharps] if sharps > 0 else _FLAT_ORDER[:-sharps]:
        alt[letter] = 1 if sharps > 0 else -1
    return alt


# Chromatic pitches relative to the tonic -> the scale degree (0-based) they are spelled on:
# major: #1, b3, #4, b6, b7; minor: b2, #3 (the major third), #4, #6 and #7 (melodic minor).
_CHROMATIC_DEGREE = {"major": {1: 0, 3: 2, 6: 3, 8: 5, 10: 6}, "minor": {1: 1, 4: 2, 6: 3, 9: 5, 11: 6}}
_ACCIDENTALS = {2: "^^", 1: "^", 0: "=", -1: "_", -2: "__"}


def _spell(pitch: int, key: Key, key_alt: dict[str, int]) -> tuple[str, int]:
    """A letter and alteration for `pitch` in `key`: the key's own spelling when the pitch is diatonic,
    else the usual chromatic spelling of its degree (F# not Gb in C major, Bb not A# in G major)."""
    pc = pitch % 12
    for letter in _LETTERS:
        if (_NATURAL_PC[letter] + key_alt[letter]) % 12 == pc:
            return letter, key_alt[letter]
    tonic_letter = _key_text(key)[0]  # "Ebmaj" -> "E"
    degree = _CHROMATIC_DEGREE[key.mode][(pc - key.tonic) % 12]
    letter = _LETTERS[(_LETTERS.index(tonic_letter) + degree) % 7]
    delta = (pc - _NATURAL_PC[letter] - key_alt[letter] + 6) % 12 - 6  # -1 or +1 from the key's note
    return letter, key_alt[letter] + delta


def _pitch_text(pitch: int, letter: str, alt: int, accidental: str) -> str:
    natural = pitch - alt
    octave = natural // 12 - 1  # MIDI 60 -> octave 4 -> "C"
    if octave >= 5:
        return accidental + letter.lower() + "'" * (octave - 5)
    return accidental + letter + "," * (4 - octave)


def _length_text(length: Fraction) -> str:
    if length == 1:
        return ""
    if length.denominator == 1:
        return str(length.numerator)
    if length.numerator == 1 and length.denominator == 2:
        return "/"
    if length.numerator == 1:
        return f"/{length.denominator}"
    return f"{length.numerator}/{length.denominator}"


def _unit_length(score: Score) -> Fraction:
    """L: 1/8 when every bar-relative onset and duration is a multiple of an eighth note, else 1/16."""
    eighth = Fraction(1, 2)  # quarter lengths
    for part in score.parts:
        for n in part.notes:
            if (frac(n.duration) / eighth).denominator != 1 or (frac(n.onset - score.pickup) / eighth).denominator != 1:
                return Fraction(1, 16)
    return Fraction(1, 8)


def write_abc_text(score: Score, index: int = 1) -> str:
    """Render `score` as one ABC tune (text). Each voice becomes a `V:`; chord symbols go on voice 1."""
    if score.n_notes == 0:
        raise ScoreError("refusing to write a score with no notes")
    ts = score.time_signature
    unit = _unit_length(score)  # a fraction of a whole note
    unit_ql = unit * 4
    key_alt = _key_alterations(score.key)
    key = score.key or Key(0)
    lines = [f"X:{index}", f"T:{score.title or 'untitled'}", f"M:{ts.numerator}/{ts.denominator}"]
    lines.append(f"L:{unit.numerator}/{unit.denominator}")
    lines.append(f"Q:1/4={round(score.tempo_bpm)}")
    lines.append(f"K:{_key_text(score.key)}")
    chords = {frac(c.onset): c.figure for c in score.chords}
    bounds = bar_bounds(score)
    voices = split_voices(score)
    for vi, part in enumerate(voices):
        if len(voices) > 1:
            lines.append(f'V:{vi + 1} name="{part.name or vi + 1}"')
        bar_texts = []
        for events in bars_of_voice(part, bounds):
            bar_state: dict[tuple[str, int], int] = {}  # accidentals written in this bar
            tokens = []
            for ev in events:
                length = _length_text(ev.duration / unit_ql)
                if not ev.pitches:
                    tokens.append("z" + length)
                    continue
                texts = []
                for pitch in ev.pitches:
                    letter, alt = _spell(pitch, key, key_alt)
                    octave = (pitch - alt) // 12
                    acc = ""
                    # Explicit whenever it differs from the key signature or from an earlier accidental
                    # of the bar: ABC carries accidentals to the bar line, music21's reader does not.
                    if alt != key_alt[letter] or alt != bar_state.get((letter, octave), key_alt[letter]):
                        acc = _ACCIDENTALS[alt]
                        bar_state[(letter, octave)] = alt
                    texts.append(_pitch_text(pitch, letter, alt, acc) + length)
                body = texts[0] if len(texts) == 1 else "[" + "".join(texts) + "]"
                figure = chords.get(ev.onset) if vi == 0 and not ev.tie_stop else None
                prefix = f'"{figure}"' if figure else ""
                tokens.append(
                    prefix
                    + ("!fermata!" if ev.fermata and not ev.tie_stop else "")
                    + body
                    + ("-" if ev.tie_start else "")
                )
            bar_texts.append(" ".join(tokens))
        for i in range(0, len(bar_texts), 4):
            last = i + 4 >= len(bar_texts)
            lines.append(" | ".join(bar_texts[i : i + 4]) + (" |]" if last else " |"))
    return "\n".join(lines) + "\n"


def _key_text(key: Key | None) -> str:
    if key is None:
        return "C"
    if key.mode == "major":
        return _MAJOR_NAMES[key.tonic] + "maj"  # explicit: a bare "K:G" is read as a key signature only
    return _MINOR_NAMES[key.tonic] + "m"


def write_abc(scores: Score | list[Score], path: str | Path) -> None:
    """Write one score or a tune book of scores to an ABC file, atomically."""
    items = [scores] if isinstance(scores, Score) else list(scores)
    text = "\n".join(write_abc_text(s, index=i + 1) for i, s in enumerate(items))
    write_text_atomic(path, text)
