"""Melodies as event sequences, and the viewpoints of multiple-viewpoint models (Conklin & Witten 1995).

A viewpoint maps an event sequence to a sequence of symbols from a fixed, finite domain, so that a model can
predict a basic attribute (the pitch) through derived ones (the interval from the previous note, the scale
degree). Every domain has a fixed size and every symbol is an integer index into it.

Conklin & Witten, "Multiple viewpoint systems for music prediction", JNMR 24(1), 1995.
Pearce, "The construction and evaluation of statistical models of melodic structure" (PhD thesis, 2005: IDyOM).
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.core.score import Score, ScoreError

# Durations a model can represent, in quarter lengths (16ths to a dotted breve, with dotted and triplet values).
DURATIONS = (
    1 / 6, 0.25, 1 / 3, 0.375, 0.5, 2 / 3, 0.75, 1.0, 4 / 3, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0,
    8.0, 9.0, 12.0,
)  # fmt: skip
REST = -1


@dataclass(frozen=True, slots=True)
class Event:
    """A note (pitch >= 0) or a rest (pitch == REST) with its duration in quarter lengths."""

    pitch: int
    duration: float

    @property
    def is_rest(self) -> bool:
        return self.pitch == REST


def duration_index(duration: float) -> int:
    """Index of the nearest representable duration."""
    return min(range(len(DURATIONS)), key=lambda i: abs(DURATIONS[i] - duration))


def melody_events(score: Score, *, rests: bool = True) -> list[Event]:
    """The melody (first part) as events; overlapping notes keep the highest, gaps become rests.

    Raises:
        ScoreError: the melody has no notes.
    """
    notes = score.melody().notes
    if not notes:
        raise ScoreError(f"{score.source or score.title or 'score'}: melody has no notes")
    by_onset: dict[float, tuple[int, float]] = {}
    for n in notes:
        if n.onset not in by_onset or n.pitch > by_onset[n.onset][0]:
            by_onset[n.onset] = (n.pitch, n.duration)
    events: list[Event] = []
    onsets = sorted(by_onset)
    t = onsets[0]
    for i, onset in enumerate(onsets):
        pitch, dur = by_onset[onset]
        if onset > t + 1e-6 and rests:
            events.append(Event(REST, onset - t))
        nxt = onsets[i + 1] if i + 1 < len(onsets) else onset + dur
        dur = min(dur, nxt - onset)  # a note cut short by the next onset
        events.append(Event(pitch, dur))
        t = onset + dur
    return events


@dataclass(frozen=True)
class Viewpoint:
    """A function of the event sequence up to position i, into a domain of `size` symbols (0..size-1)."""

    name: str
    size: int

    def symbol(self, events: list[Event], i: int, tonic: int) -> int:
        e = events[i]
        if self.name == "pitch":
            return 128 if e.is_rest else e.pitch
        if self.name == "duration":
            return duration_index(e.duration) + (len(DURATIONS) if e.is_rest else 0)
        if self.name == "pitch_duration":
            return (128 if e.is_rest else e.pitch) * len(DURATIONS) + duration_index(e.duration)
        if self.name == "interval":
            if e.is_rest:
                return 255
            prev = next((events[j].pitch for j in range(i - 1, -1, -1) if not events[j].is_rest), None)
            return 256 if prev is None else e.pitch - prev + 127
        if self.name == "scale_degree":
            return 12 if e.is_rest else (e.pitch - tonic) % 12
        raise ValueError(f"unknown viewpoint {self.name}")

    def sequence(self, events: list[Event], tonic: int) -> list[int]:
        return [self.symbol(events, i, tonic) for i in range(len(events))]


VIEWPOINTS = {
    "pitch": Viewpoint("pitch", 129),  # MIDI 0..127, 128 = rest
    "duration": Viewpoint("duration", 2 * len(DURATIONS)),  # note durations, then rest durations
    "pitch_duration": Viewpoint("pitch_duration", 129 * len(DURATIONS)),
    "interval": Viewpoint("interval", 257),  # -127..127 -> 0..254, 255 = rest, 256 = first note
    "scale_degree": Viewpoint("scale_degree", 13),  # semitones above the tonic, 12 = rest
}
