"""Render real-time factor: seconds of audio per second of wall time, on one core.

The process (and the FluidSynth it starts) is pinned to one core; each render is timed from the Score to the
finished WAV, MIDI writing and FluidSynth start-up included.
usage: python benchmarks/render_rtf.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import soundfile as sf

from cadenza.corpus import load_corpus
from cadenza.render import render_score

from common import write_result


def main(n_pieces: int = 8) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    scores = load_corpus("bach", progress=False).scores[:n_pieces]
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sr in (22050, 44100):
            audio_s, wall_s = 0.0, 0.0
            for i, s in enumerate(scores):
                wav = Path(tmp) / f"{i}.wav"
                t0 = time.perf_counter()
                render_score(s, wav, sample_rate=sr)
                wall_s += time.perf_counter() - t0
                audio_s += sf.info(str(wav)).duration
            figures[f"rtf_{sr}hz"] = round(audio_s / wall_s, 1)
        figures["audio_s"] = round(audio_s, 1)
    figures["pieces"] = len(scores)
    figures["cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "all"
    write_result("render_rtf", figures, command="python benchmarks/render_rtf.py")


if __name__ == "__main__":
    main()
