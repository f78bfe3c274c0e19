"""Build `src/cadenza/corpus/data/pop909_leadsheets.json.gz` from a POP909 checkout (the `pop909` corpus).

usage: python scripts/build_pop909.py PATH/TO/pop909 [-o OUT]

Each song keeps what a lead sheet holds: the sung melody (MIDI track MELODY) and the hand-checked chord
labels (chord_midi.txt), both moved from seconds onto the song's beat grid (beat_midi.txt), and the key
(key_audio.txt). Kept: songs with one key whose bars have four beats (90% of them at least; evaluation is per
beat). Times are in beats counted from the first downbeat at or before the melody's first note; note onsets and
lengths on a 16th-note grid.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np
import pretty_midi

STEPS_PER_BEAT = 4


def song(folder: Path) -> dict | None:
    keys = [line.split("\t") for line in (folder / "key_audio.txt").read_text().split("\n") if line.strip()]
    if len(keys) != 1:
        return None
    beats = np.loadtxt(folder / "beat_midi.txt")
    times, downbeat = beats[:, 0], beats[:, 2] > 0.5
    bars = np.flatnonzero(downbeat)
    if len(bars) < 8 or np.mean(np.diff(bars) == 4) < 0.9:  # a stray 2- or 6-beat bar is fine: beats count
        return None
    midi = pretty_midi.PrettyMIDI(str(folder / f"{folder.name}.mid"))
    melody = next((i for i in midi.instruments if i.name.upper() == "MELODY"), None)
    if melody is None or len(melody.notes) < 32:
        return None
    index = np.arange(len(times), dtype=float)

    def beat_of(t: float) -> float:  # seconds -> beats, extrapolated past the last beat at its tempo
        if t <= times[-1]:
            return float(np.interp(t, times, index))
        return float(index[-1] + (t - times[-1]) / (times[-1] - times[-2]))

    first = beat_of(min(n.start for n in melody.notes))
    origin = int(max((b for b in bars if b <= first + 0.125), default=bars[0]))
    notes: list[int] = []
    for n in sorted(melody.notes, key=lambda n: (n.start, n.pitch)):
        on = round((beat_of(n.start) - origin) * STEPS_PER_BEAT)
        off = round((beat_of(n.end) - origin) * STEPS_PER_BEAT)
        if on < 0:
            continue
        if notes and on < notes[-3] + notes[-2]:  # a monophonic line: cut the previous note at this onset
            notes[-2] = on - notes[-3]
            if notes[-2] <= 0:
                del notes[-3:]
        notes += [on, max(off - on, 1), int(n.pitch)]
    chords: list[list] = []
    for line in (folder / "chord_midi.txt").read_text().split("\n"):
        if not line.strip():
            continue
        start, end, label = line.split("\t")
        b0, b1 = round(beat_of(float(start)) - origin), round(beat_of(float(end)) - origin)
        if b1 <= max(b0, 0) or label == "N":
            continue
        chords.append([max(b0, 0), b1 - max(b0, 0), label])
    tonic, mode = keys[0][2].split(":")
    return {"id": folder.name, "key": f"{tonic} {'major' if mode == 'maj' else 'minor'}", "notes": notes,
            "chords": chords}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pop909", type=Path)
    default = Path(__file__).parents[1] / "src/cadenza/corpus/data/pop909_leadsheets.json.gz"
    ap.add_argument("-o", "--output", type=Path, default=default)
    args = ap.parse_args()
    folders = sorted(p for p in args.pop909.iterdir() if p.is_dir() and p.name.isdigit())
    songs = [s for f in folders if (s := song(f)) is not None]
    with gzip.open(args.output, "wt", compresslevel=9) as f:
        json.dump({"steps_per_beat": STEPS_PER_BEAT, "songs": songs}, f, separators=(",", ":"))
    print(f"kept {len(songs)} of {len(folders)} songs -> {args.output} ({args.output.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
