"""music21 streams <-> Score. music21 is imported lazily: it takes ~1 s to import.

music21 reads MusicXML, ABC and Humdrum kern for us; this module is the one place that knows its
object model.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

from cadenza.core.score import ChordSymbol, Key, Note, Part, Score, ScoreError, TimeSignature
from cadenza.evaluate.key import estimate_key
from cadenza.io.notation import bar_bounds, bars_of_voice, frac, split_voices

_MINOR_MODES = {"minor", "aeolian", "dorian", "phrygian", "locrian"}


def _r(x: Any) -> float:
    return round(float(x), 6)


def from_music21(stream: Any, source: str = "") -> Score:
    """Convert a music21 Score (or Part) into a cadenza Score.

    Ties are merged into single notes, grace notes dropped, chords split into notes, chord symbols
    kept as `ChordSymbol`s. The key is the first `Key` of the stream; where the source has only a key
    signature, the mode (major or its relative minor) is chosen by key-profile correlation.
    """
    from music21 import expressions, harmony, key, meter, tempo
    from music21 import stream as m21stream

    parts_m21 = list(stream.parts) if isinstance(stream, m21stream.Score) else [stream]
    if not parts_m21:
        parts_m21 = [stream]
    parts: list[Part] = []
    chords: list[ChordSymbol] = []
    for index, pm in enumerate(parts_m21):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stripped = pm.stripTies(inPlace=False)
        flat = stripped.flatten()
        notes: list[Note] = []
        for el in flat.notes:
            if isinstance(el, harmony.ChordSymbol):
                if index == 0:
                    chords.append(ChordSymbol(_r(el.offset), str(el.figure)))
                continue
            dur = _r(el.quarterLength)
            if dur <= 0:  # grace notes
                continue
            vel = el.volume.velocity if el.volume.velocity is not None else 80
            fermata = any(isinstance(e, expressions.Fermata) for e in el.expressions)
            for p in el.pitches:
                notes.append(Note(int(p.midi), _r(el.offset), dur, int(vel), fermata))
        program = 0
        inst = pm.getInstrument(returnDefault=False) if hasattr(pm, "getInstrument") else None
        if inst is not None and inst.midiProgram is not None:
            program = int(inst.midiProgram)
        name = str(pm.partName or (inst.partName if inst is not None and inst.partName else "") or f"part {index + 1}")
        if notes:
            parts.append(Part(tuple(notes), name=name, program=program))

    flat_all = stream.flatten()
    ts = TimeSignature()
    ts_m21 = next(iter(flat_all.getElementsByClass(meter.TimeSignature)), None)
    if ts_m21 is not None:
        try:
            ts = TimeSignature(int(ts_m21.numerator), int(ts_m21.denominator))
        except ScoreError:
            raise ScoreError(f"{source}: unsupported meter {ts_m21.ratioString}") from None
    tempo_bpm = 100.0
    mm = next(iter(flat_all.getElementsByClass(tempo.MetronomeMark)), None)
    if mm is not None and mm.getQuarterBPM():
        tempo_bpm = _r(mm.getQuarterBPM())

    score = Score(tuple(parts), time_signature=ts, tempo_bpm=tempo_bpm, chords=tuple(chords), source=source)
    k = next(iter(flat_all.getElementsByClass(key.Key)), None)
    if k is not None:
        mode = "minor" if (k.mode or "major").lower() in _MINOR_MODES else "major"
        found: Key | None = Key(int(k.tonic.pitchClass), mode)
    else:
        ks = next(iter(flat_all.getElementsByClass(key.KeySignature)), None)
        if ks is not None and score.n_notes:
            major = ks.asKey("major")
            cands = [Key(int(major.tonic.pitchClass), "major"), Key((int(major.tonic.pitchClass) - 3) % 12, "minor")]
            found = estimate_key(score, candidates=cands)
        else:
            found = estimate_key(score) if score.n_notes else None

    pickup = 0.0
    with_notes = [pm for pm in parts_m21 if pm.flatten().notes]
    measures = list(with_notes[0].getElementsByClass("Measure")) if with_notes else []
    if len(measures) > 1 and 0 < measures[1].offset < ts.bar_length - 1e-6:
        pickup = _r(measures[1].offset)
    title = ""
    if stream.metadata is not None:
        title = str(stream.metadata.title or "")
    return score.replace(key=found, pickup=pickup, title=title)


def to_music21(score: Score) -> Any:
    """Build a music21 Score (parts of measures, ties, key/meter/tempo marks) from a Score."""
    from music21 import chord, common, expressions, harmony, key, metadata, meter, note, stream, tempo, tie

    out = stream.Score()
    out.metadata = metadata.Metadata(title=score.title or "untitled")
    ts = score.time_signature
    bounds = bar_bounds(score)
    for pi, part in enumerate(split_voices(score)):
        pm = stream.Part()
        pm.partName = part.name or f"Part {pi + 1}"
        for bi, events in enumerate(bars_of_voice(part, bounds)):
            m = stream.Measure(number=bi if score.pickup > 1e-9 else bi + 1)
            if bi == 0:
                m.insert(0, meter.TimeSignature(f"{ts.numerator}/{ts.denominator}"))
                if score.key is not None:
                    m.insert(0, key.Key(_tonic_name(score.key), score.key.mode))
                if pi == 0:
                    m.insert(0, tempo.MetronomeMark(number=score.tempo_bpm))
            b0 = bounds[bi]
            for ev in events:
                ql = common.opFrac(ev.duration)
                if not ev.pitches:
                    el: Any = note.Rest(quarterLength=ql)
                elif len(ev.pitches) == 1:
                    el = note.Note(ev.pitches[0], quarterLength=ql)
                else:
                    el = chord.Chord(list(ev.pitches), quarterLength=ql)
                if ev.pitches:
                    el.volume.velocity = ev.velocity
                    if ev.tie_start or ev.tie_stop:
                        el.tie = tie.Tie(
                            "continue" if ev.tie_start and ev.tie_stop else "start" if ev.tie_start else "stop"
                        )
                    if ev.fermata and not ev.tie_stop:
                        el.expressions.append(expressions.Fermata())
                m.insert(common.opFrac(ev.onset - b0), el)
            if pi == 0:
                for cs in score.chords:
                    if bounds[bi] <= frac(cs.onset) < bounds[bi + 1]:
                        # music21 cannot parse every figure a source uses: skip those
                        with contextlib.suppress(Exception):
                            m.insert(common.opFrac(frac(cs.onset) - b0), harmony.ChordSymbol(cs.figure))
            if bi == 0 and score.pickup > 1e-9:
                m.paddingLeft = common.opFrac(frac(ts.bar_length) - bounds[1])
            pm.append(m)
        out.insert(0, pm)
    return out


def _tonic_name(k: Key) -> str:
    sharp_keys = {0, 7, 2, 9, 4, 11, 6} if k.mode == "major" else {9, 4, 11, 6, 1, 8, 3}
    sharp = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    flat = ("C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "C-")
    name = sharp[k.tonic] if k.tonic in sharp_keys else flat[k.tonic]
    return name if k.mode == "major" else name.lower()
