"""Voicing: chords, one per slot, laid out under a melody as four parts or as a lead-sheet accompaniment.

`voice_satb` chooses alto, tenor and bass for every slot by dynamic programming over all voicings that the
ranges allow: the cheapest path through them, where a voicing costs what it lacks (the four voices together,
the melody counted, must hold the chord's root and third, and its fifth or its seventh; a seventh chord wants
its seventh) and a move costs how far the voices go, parallel fifths and octaves between any two voices,
and an inner voice that returns to where it was two slots before (the back-and-forth of a voice stuck on a
semitone). The bass takes the root.

`accompany` turns the same voicings into a lead-sheet texture: block chords (`chords`) or a bass on the
strong beats and the chord on the others (`oompah`).
"""

from __future__ import annotations

from itertools import product

import numpy as np

from cadenza.core.score import Key, Note, Part, Score
from cadenza.symbolic.chords import Chord

TEXTURES = ("satb", "chords", "oompah")
RANGES = {"alto": (55, 74), "tenor": (48, 67), "bass": (40, 62)}
INCOMPLETE = 30.0  # a chord without its root, third and fifth-or-seventh
NO_SEVENTH = 3.0  # a seventh chord voiced without its seventh
PARALLEL = 25.0  # parallel fifths or octaves between two voices
RETURN = 1.5  # an inner voice back where it was two slots before, after moving
DOUBLED_THIRD = 1.0  # the third of a major triad doubled (textbook: double the root)


def _soprano(melody: Score, t0: float, t1: float) -> int | None:
    """The melody pitch at the start of a slot, else the first one to start in it (None: it rests)."""
    notes = melody.melody().notes
    sounding = [n.pitch for n in notes if n.onset <= t0 + 1e-9 < n.offset]
    if sounding:
        return max(sounding)
    inside = [n for n in notes if t0 < n.onset < t1]
    return inside[0].pitch if inside else None


def _soprano_at_end(melody: Score, t0: float, t1: float) -> int | None:
    """The last melody pitch heard in the slot [t0, t1), held to its end or not (None: it rests throughout)."""
    heard = [n for n in melody.melody().notes if n.onset < t1 - 1e-9 and n.offset > t0 + 1e-9]
    return max(heard, key=lambda n: (n.onset, n.pitch)).pitch if heard else None


def _candidates(chord: Chord, key: Key, soprano: int | None) -> tuple[np.ndarray, np.ndarray]:
    """All (bass, tenor, alto) of one chord under `soprano`, and what each costs on its own."""
    pcs = chord.pitch_classes(key.tonic)
    root, third = pcs[0], pcs[1]
    bass = [p for p in range(*_span("bass")) if p % 12 == root]
    tenor = [p for p in range(*_span("tenor")) if p % 12 in pcs]
    for strict in (True, False):  # not strict: the melody sits too low for a voicing under it; let it cross
        ceiling = (soprano - 1) if soprano is not None and strict else 74
        alto = [p for p in range(*_span("alto")) if p % 12 in pcs and p <= ceiling]
        rows, costs = [], []
        for b, t, a in product(bass, tenor, alto):
            if not (b < t <= a) or (strict and (a - t > 12 or t - b > 19)):
                continue
            if strict and soprano is not None and soprano - a > 12:
                continue
            voiced = [b % 12, t % 12, a % 12] + ([soprano % 12] if soprano is not None else [])
            cost = 0.0 if strict else INCOMPLETE
            if root not in voiced or third not in voiced or not any(x in voiced for x in pcs[2:]):
                cost += INCOMPLETE
            if chord.is_seventh and pcs[3] not in voiced:
                cost += NO_SEVENTH
            if chord.quality == "maj" and voiced.count(third) > 1:
                cost += DOUBLED_THIRD
            rows.append((b, t, a))
            costs.append(cost)
        if rows:
            break
    return np.array(rows, dtype=int), np.array(costs)


def _span(voice: str) -> tuple[int, int]:
    lo, hi = RANGES[voice]
    return lo, hi + 1


def _parallels(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """[m, n] number of voice pairs moving in parallel fifths or octaves from voicing prev[i] to cur[j]; voices
    are columns (soprano last, -1 when the melody rests)."""
    count = np.zeros((len(prev), len(cur)))
    v = prev.shape[1]
    for i in range(v):
        for j in range(i + 1, v):
            p_int = (prev[:, j] - prev[:, i])[:, None] % 12
            c_int = (cur[:, j] - cur[:, i])[None, :] % 12
            moves_i = prev[:, i][:, None] != cur[:, i][None, :]
            moves_j = prev[:, j][:, None] != cur[:, j][None, :]
            valid = (prev[:, [i, j]].min(axis=1) >= 0)[:, None] & (cur[:, [i, j]].min(axis=1) >= 0)[None, :]
            perfect = ((p_int == 0) & (c_int == 0)) | ((p_int == 7) & (c_int == 7))
            same_dir = np.sign(cur[:, i][None, :] - prev[:, i][:, None]) == np.sign(
                cur[:, j][None, :] - prev[:, j][:, None]
            )
            count += valid & perfect & moves_i & moves_j & same_dir
    return count


def voice_satb(
    chords: list[Chord], key: Key, slot_ql: float, origin: float, active: np.ndarray, melody: Score
) -> list[tuple[int, int, int] | None]:
    """(bass, tenor, alto) for each slot (None where the melody is silent), the cheapest path of voicings."""
    slots = [k for k in range(len(chords)) if active[k]]
    out: list[tuple[int, int, int] | None] = [None] * len(chords)
    if not slots:
        return out
    sopranos = [_soprano(melody, origin + k * slot_ql, origin + (k + 1) * slot_ql) for k in slots]
    cands = [_candidates(chords[k], key, s) for k, s in zip(slots, sopranos)]
    # the voices with the melody as it starts each slot, and as it ends it (what moves into the next slot)
    full = [np.column_stack([c, np.full(len(c), -1 if s is None else s)]) for (c, _), s in zip(cands, sopranos)]
    last = [_soprano_at_end(melody, origin + k * slot_ql, origin + (k + 1) * slot_ql) for k in slots]
    ends = [np.column_stack([f[:, :3], np.full(len(f), -1 if e is None else e)]) for f, e in zip(full, last)]
    # DP over (previous voicing, current voicing): the "return" rule looks two slots back, so the state is a pair
    cost = cands[0][1].copy()  # [n0]: best path cost ending at each voicing of the first slot
    pair_cost: np.ndarray | None = None  # [m, n]: best cost ending with voicings (prev=m, cur=n)
    backs: list[np.ndarray] = []
    for k in range(1, len(slots)):
        prev, cur = full[k - 1], full[k]
        move = (np.abs(prev[:, None, 2] - cur[None, :, 2]) + np.abs(prev[:, None, 1] - cur[None, :, 1])
                + 0.5 * np.abs(prev[:, None, 0] - cur[None, :, 0]))  # fmt: skip
        trans = move / 2.0 + PARALLEL * _parallels(ends[k - 1], cur) + cands[k][1][None, :]  # [m, n]
        if pair_cost is None:
            pair_cost = cost[:, None] + trans
            backs.append(np.zeros((len(prev), len(cur)), dtype=int))
            continue
        before = full[k - 2]
        # returning inner voices: before[l] == cur[n] != prev[m] for tenor or alto
        ret = np.zeros((len(before), len(prev), len(cur)))
        for v in (1, 2):
            back_again = before[:, None, None, v] == cur[None, None, :, v]
            ret += back_again & (prev[None, :, None, v] != cur[None, None, :, v])
        total = pair_cost[:, :, None] + RETURN * ret  # [l, m, n]
        best_l = total.argmin(axis=0)  # [m, n]
        pair_cost = np.take_along_axis(total, best_l[None], axis=0)[0] + trans
        backs.append(best_l)
    if pair_cost is None:
        path = [int(cost.argmin())]
    else:
        m, n = (int(x) for x in np.unravel_index(int(pair_cost.argmin()), pair_cost.shape))
        path = [n, m]
        for k in range(len(slots) - 1, 1, -1):
            m, n = int(backs[k - 1][m, n]), m
            path.append(m)
        path.reverse()
    for j, (k, i) in enumerate(zip(slots, path)):
        b, t, a = (int(x) for x in cands[j][0][i])
        out[k] = (b, t, a)
    return out


def accompany(
    voicings: list[tuple[int, int, int] | None],
    key: Key,
    slot_ql: float,
    origin: float,
    melody: Score,
    texture: str = "satb",
) -> Score:
    """The voicings as parts under the melody: `satb` (alto, tenor, bass), `chords` (block chords that hold
    while the chord does, and the bass) or `oompah` (the bass on the strong beats of the bar, the chord on
    the others)."""
    if texture not in TEXTURES:
        raise ValueError(f"unknown texture {texture!r} (expected one of {', '.join(TEXTURES)})")
    lead = Part(melody.melody().notes, name="melody", program=73 if texture == "satb" else 0)
    names = ("bass", "tenor", "alto")
    voices: dict[str, list[Note]] = {v: [] for v in names}
    for k, v in enumerate(voicings):
        if v is None:
            continue
        t0 = max(0.0, origin + k * slot_ql)
        length = origin + (k + 1) * slot_ql - t0
        if texture != "oompah":
            for name, pitch in zip(names, v):
                voices[name].append(Note(pitch, round(t0, 6), round(length, 6)))
            continue
        beat = melody.time_signature.beat_length
        bar = melody.time_signature.bar_length
        b = 0.0
        while b < length - 1e-9:  # per beat inside the slot: bass on strong beats, chord on weak ones
            t = t0 + b
            d = min(beat, length - b)
            pos = (t - melody.pickup) % bar
            strong = pos < 1e-6 or (bar == 4.0 and abs(pos - 2.0) < 1e-6)
            if strong:
                fifth = v[0] + 7 if abs(pos - 2.0) < 1e-6 and v[0] + 7 <= 62 else v[0]
                voices["bass"].append(Note(fifth, round(t, 6), round(d, 6)))
            else:
                for name, pitch in zip(("tenor", "alto"), v[1:]):
                    voices[name].append(Note(pitch, round(t, 6), round(min(d, beat / 2), 6)))
            b += beat
    if texture == "satb":
        parts = [lead] + [Part(tuple(_merge(voices[v])), name=v, program=52) for v in ("alto", "tenor", "bass")]
    else:
        chord_notes = tuple(voices["tenor"] + voices["alto"])
        merged = chord_notes if texture == "oompah" else tuple(_merge_chords(voices["tenor"], voices["alto"]))
        parts = [lead, Part(merged, name="chords", program=0),
                 Part(tuple(_merge(voices["bass"]) if texture == "chords" else voices["bass"]), name="bass",
                      program=32)]  # fmt: skip
    return melody.replace(parts=tuple(parts), key=key)


def _merge(notes: list[Note]) -> list[Note]:
    """Tie a voice's repeated pitch across consecutive slots into one longer note."""
    out: list[Note] = []
    for n in notes:
        if out and out[-1].pitch == n.pitch and abs(out[-1].offset - n.onset) < 1e-9:
            out[-1] = Note(n.pitch, out[-1].onset, out[-1].duration + n.duration)
        else:
            out.append(n)
    return out


def _merge_chords(*voices: list[Note]) -> list[Note]:
    """Block chords that hold while the whole chord stays the same (the voices tied together, not one by one)."""
    slots = list(zip(*voices))
    out: list[list[Note]] = []
    for chord in slots:
        same = out and [n.pitch for n in out[-1]] == [n.pitch for n in chord]
        if same and abs(out[-1][0].offset - chord[0].onset) < 1e-9:
            out[-1] = [Note(n.pitch, n.onset, n.duration + c.duration) for n, c in zip(out[-1], chord)]
        else:
            out.append(list(chord))
    return [n for chord in out for n in chord]
