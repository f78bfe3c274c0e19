"""The canonical symbolic type: `Score` made of `Part`s made of `Note`s.

Every reader returns a `Score`, every writer, encoding, generator and metric takes one. Time is in
quarter lengths (a quarter note = 1.0) from the start of the piece, the way music21 counts it; pitches
are MIDI numbers (60 = middle C). All types are frozen: transformations return new objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from cadenza.errors import ScoreError

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")


@dataclass(frozen=True, slots=True)
class Note:
    """One sounding note.

    Attributes:
        pitch: MIDI pitch, 0..127.
        onset: start in quarter lengths from the beginning of the score.
        duration: length in quarter lengths, > 0.
        velocity: MIDI velocity, 1..127.
        fermata: True where the source marks a fermata on this note (Bach chorales).
    """

    pitch: int
    onset: float
    duration: float
    velocity: int = 80
    fermata: bool = False

    @property
    def offset(self) -> float:
        """End time in quarter lengths."""
        return self.onset + self.duration


@dataclass(frozen=True, slots=True)
class Part:
    """A voice or instrument: a name, a General MIDI program and its notes sorted by onset then pitch."""

    notes: tuple[Note, ...]
    name: str = ""
    program: int = 0
    is_drum: bool = False

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.notes, key=lambda n: (n.onset, n.pitch)))
        if ordered != self.notes:
            object.__setattr__(self, "notes", ordered)

    @property
    def end(self) -> float:
        return max((n.offset for n in self.notes), default=0.0)

    def is_monophonic(self, tol: float = 1e-6) -> bool:
        """True when no two notes of the part overlap in time."""
        return all(b.onset >= a.offset - tol for a, b in zip(self.notes, self.notes[1:]))


@dataclass(frozen=True, slots=True)
class Key:
    """A key: tonic pitch class (0 = C) and mode ("major" or "minor")."""

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ScoreError(f"unsupported mode {self.mode!r} (expected one of {MODES})")
        object.__setattr__(self, "tonic", self.tonic % 12)

    @property
    def name(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"

    @property
    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the scale (natural minor for minor keys)."""
        steps = (0, 2, 4, 5, 7, 9, 11) if self.mode == "major" else (0, 2, 3, 5, 7, 8, 10)
        return tuple((self.tonic + s) % 12 for s in steps)

    def transpose(self, semitones: int) -> Key:
        return Key(self.tonic + semitones, self.mode)

    @staticmethod
    def parse(text: str) -> Key:
        """Parse "D minor", "Bb major", "f#" (lower case = minor), "Am"."""
        t = text.strip()
        if not t:
            raise ScoreError("empty key name")
        parts = t.replace("-", " ").split()
        name, mode = parts[0], (parts[1].lower() if len(parts) > 1 else "")
        if not mode:
            if name.endswith("m") and len(name) > 1 and name[:-1] != "":
                name, mode = name[:-1], "minor"
            elif name[0].islower():
                mode = "minor"
            else:
                mode = "major"
        mode = {"maj": "major", "min": "minor", "m": "minor"}.get(mode, mode)
        return Key(_pitch_class(name), mode)


def _pitch_class(name: str) -> int:
    letters = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    if not name or name[0].upper() not in letters:
        raise ScoreError(f"cannot parse pitch name {name!r}")
    pc = letters[name[0].upper()]
    for ch in name[1:]:
        if ch in "#♯":
            pc += 1
        elif ch in "b♭-":
            pc -= 1
        else:
            raise ScoreError(f"cannot parse pitch name {name!r}")
    return pc % 12


@dataclass(frozen=True, slots=True)
class TimeSignature:
    numerator: int = 4
    denominator: int = 4

    def __post_init__(self) -> None:
        if self.numerator <= 0 or self.denominator not in (1, 2, 4, 8, 16, 32):
            raise ScoreError(f"unsupported meter {self.numerator}/{self.denominator}")

    @property
    def bar_length(self) -> float:
        """Length of one bar in quarter lengths."""
        return self.numerator * 4.0 / self.denominator

    @property
    def beat_length(self) -> float:
        """Length of one beat in quarter lengths (compound meters: a dotted beat)."""
        if self.denominator >= 8 and self.numerator % 3 == 0 and self.numerator > 3:
            return 3 * 4.0 / self.denominator
        return 4.0 / self.denominator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @staticmethod
    def parse(text: str) -> TimeSignature:
        t = text.strip()
        if t == "C":
            return TimeSignature(4, 4)
        if t == "C|":
            return TimeSignature(2, 2)
        try:
            num, den = (int(x) for x in t.split("/"))
        except ValueError:
            raise ScoreError(f"cannot parse meter {text!r} (expected e.g. 3/4)") from None
        return TimeSignature(num, den)


@dataclass(frozen=True, slots=True)
class ChordSymbol:
    """A chord symbol as written in the source (e.g. "Am7"), at an onset in quarter lengths."""

    onset: float
    figure: str


@dataclass(frozen=True, slots=True)
class Score:
    """A piece: parts, key, meter, tempo, optional chord symbols and metadata.

    Attributes:
        parts: the voices or instruments, soprano first for chorales.
        key: the (first) key of the piece, None when unknown.
        time_signature: the (first) meter.
        tempo_bpm: quarter notes per minute.
        pickup: length of an anacrusis in quarter lengths (0 when the piece starts on a downbeat).
        chords: chord symbols where the source has them.
        title: human-readable title.
        source: where it came from (a path, or "corpus:index").
    """

    parts: tuple[Part, ...]
    key: Key | None = None
    time_signature: TimeSignature = field(default_factory=TimeSignature)
    tempo_bpm: float = 100.0
    pickup: float = 0.0
    chords: tuple[ChordSymbol, ...] = ()
    title: str = ""
    source: str = ""

    @property
    def notes(self) -> list[Note]:
        """All notes of all non-drum parts, sorted by onset then pitch."""
        return sorted((n for p in self.parts if not p.is_drum for n in p.notes), key=lambda n: (n.onset, n.pitch))

    @property
    def n_notes(self) -> int:
        return sum(len(p.notes) for p in self.parts)

    @property
    def end(self) -> float:
        """End of the last note in quarter lengths."""
        return max((p.end for p in self.parts), default=0.0)

    @property
    def duration_s(self) -> float:
        return self.end * 60.0 / self.tempo_bpm

    def pitch_range(self) -> tuple[int, int]:
        pitches = [n.pitch for p in self.parts if not p.is_drum for n in p.notes]
        if not pitches:
            raise ScoreError(f"{self.title or self.source or 'score'}: no notes")
        return min(pitches), max(pitches)

    def replace(self, **changes: object) -> Score:
        return replace(self, **changes)  # type: ignore[arg-type]

    def transpose(self, semitones: int) -> Score:
        """Shift every pitched note and the key by `semitones` (drums stay)."""
        if semitones == 0:
            return self
        parts = tuple(
            p if p.is_drum else replace(p, notes=tuple(replace(n, pitch=n.pitch + semitones) for n in p.notes))
            for p in self.parts
        )
        for p in parts:
            for n in p.notes:
                if not 0 <= n.pitch <= 127:
                    raise ScoreError(f"transposing by {semitones} puts pitch {n.pitch} outside 0..127")
        key = self.key.transpose(semitones) if self.key else None
        return replace(self, parts=parts, key=key)

    def melody(self) -> Part:
        """The first part (the tune of a folk song, the soprano of a chorale)."""
        if not self.parts:
            raise ScoreError(f"{self.title or self.source or 'score'}: no parts")
        return self.parts[0]

    def bars(self) -> Iterator[tuple[float, float]]:
        """(start, end) of every bar in quarter lengths, the pickup bar first when there is one."""
        bar = self.time_signature.bar_length
        t = 0.0
        if self.pickup > 1e-9:
            yield 0.0, self.pickup
            t = self.pickup
        while t < self.end - 1e-9:
            yield t, t + bar
            t += bar

    def beat_strength(self, onset: float) -> float:
        """Metrical weight of an onset: 1 downbeat, 0.5 other beats, 0.25 off-beat 8ths, 0.125 finer."""
        ts = self.time_signature
        pos = (onset - self.pickup) % ts.bar_length
        if abs(pos) < 1e-6 or abs(pos - ts.bar_length) < 1e-6:
            return 1.0
        beat = ts.beat_length
        if abs(pos / beat - round(pos / beat)) < 1e-6:
            return 0.5
        if abs(pos * 2 - round(pos * 2)) < 1e-6:
            return 0.25
        return 0.125


def make_score(
    parts: Iterable[Iterable[tuple[int, float, float]]],
    *,
    key: Key | None = None,
    time_signature: TimeSignature | None = None,
    tempo_bpm: float = 100.0,
    title: str = "",
) -> Score:
    """Build a score from lists of (pitch, onset, duration) triples: handy in tests and generators."""
    built = tuple(Part(tuple(Note(int(p), float(o), float(d)) for p, o, d in notes)) for notes in parts)
    return Score(built, key=key, time_signature=time_signature or TimeSignature(), tempo_bpm=tempo_bpm, title=title)
