"""What notation formats (ABC, MusicXML) need and MIDI does not: voices, bars, ties, rests.

Both writers lay a part out the same way: split it into voices whose simultaneous notes form chords,
then cut every voice into bars (the pickup bar first), with rests in gaps and ties across bar lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from cadenza.core.score import Note, Part, Score


def frac(x: float) -> Fraction:
    """A quarter-length time as an exact fraction (triplets and 16ths both survive)."""
    return Fraction(x).limit_denominator(96)


@dataclass(frozen=True, slots=True)
class Event:
    """A chord (one or more pitches) or a rest (no pitches) inside one bar."""

    onset: Fraction
    duration: Fraction
    pitches: tuple[int, ...]
    velocity: int = 80
    fermata: bool = False
    tie_start: bool = False  # continues into the next bar
    tie_stop: bool = False  # continues from the previous bar


def split_voices(score: Score) -> list[Part]:
    """Split each part into voices whose simultaneous notes share onset and duration.

    A MIDI track may overlap notes freely; a notation voice is a sequence of notes and chords. Notes
    go greedily to the first voice that is free at their onset.
    """
    out: list[Part] = []
    for part in score.parts:
        voices: list[list[Note]] = []
        for n in part.notes:
            for v in voices:
                last = v[-1]
                if (last.onset == n.onset and last.duration == n.duration) or n.onset >= last.offset - 1e-9:
                    v.append(n)
                    break
            else:
                voices.append([n])
        for vi, v in enumerate(voices):
            name = part.name if vi == 0 else f"{part.name} ({vi + 1})"
            out.append(Part(tuple(v), name=name, program=part.program, is_drum=part.is_drum))
    return out


def bar_bounds(score: Score) -> list[Fraction]:
    """Bar lines in quarter lengths: 0, the end of the pickup (if any), then every bar to the end."""
    bar = frac(score.time_signature.bar_length)
    end = frac(score.end)
    bounds = [Fraction(0)]
    if score.pickup > 1e-9:
        bounds.append(frac(score.pickup))
    while bounds[-1] < end:
        bounds.append(bounds[-1] + bar)
    return bounds


def bars_of_voice(part: Part, bounds: list[Fraction]) -> list[list[Event]]:
    """Cut one monophonic-or-chordal voice into bars of events (rests fill gaps, ties cross bars)."""
    groups: dict[tuple[Fraction, Fraction], list[Note]] = {}
    for n in part.notes:
        groups.setdefault((frac(n.onset), frac(n.duration)), []).append(n)
    chords: list[tuple[Fraction, Fraction, list[Note]]] = []
    t = Fraction(0)
    for (onset, dur), notes in sorted(groups.items()):
        if onset < t:  # overlaps the previous chord: split_voices should have separated it
            continue
        chords.append((onset, dur, notes))
        t = onset + dur
    bars: list[list[Event]] = []
    ci = 0
    for b0, b1 in zip(bounds, bounds[1:]):
        events: list[Event] = []
        t = b0
        while ci < len(chords) and chords[ci][0] < b1:
            onset, dur, notes = chords[ci]
            start = max(onset, b0)
            if start > t:
                events.append(Event(t, start - t, ()))
            stop = min(onset + dur, b1)
            pitches = tuple(sorted(n.pitch for n in notes))
            events.append(
                Event(
                    start,
                    stop - start,
                    pitches,
                    notes[0].velocity,
                    any(n.fermata for n in notes),
                    tie_start=onset + dur > b1,
                    tie_stop=onset < b0,
                )
            )
            t = stop
            if onset + dur > b1:
                break
            ci += 1
        if t < b1:
            events.append(Event(t, b1 - t, ()))
        bars.append(events)
    return bars
