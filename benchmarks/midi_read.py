"""MIDI read throughput: cadenza's reader (symusic) vs music21 on the same files, as a ratio.

usage: python benchmarks/midi_read.py
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

from cadenza import io
from cadenza.corpus import load_corpus

from common import write_result


def main(n_files: int = 60) -> None:
    scores = load_corpus("bach", progress=False).scores[:n_files]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, s in enumerate(scores):
            f = Path(tmp) / f"{i}.mid"
            io.write(s, f)
            files.append(f)
        from music21 import converter

        converter.parse(str(files[0]), forceSource=True)  # import and warm-up outside the timing
        t0 = time.perf_counter()
        ours = [io.read_midi(f).n_notes for f in files]
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = [len(converter.parse(str(f), forceSource=True).flatten().notes) for f in files]
        t_m21 = time.perf_counter() - t0
    assert sum(ours) > 0 and sum(theirs) > 0
    write_result(
        "midi_read",
        {
            "files": len(files),
            "notes": sum(ours),
            "cadenza_files_per_s": round(len(files) / t_ours, 1),
            "music21_files_per_s": round(len(files) / t_m21, 1),
            "speedup_vs_music21": round(t_m21 / t_ours, 1),
        },
        command="python benchmarks/midi_read.py",
    )


if __name__ == "__main__":
    main()
