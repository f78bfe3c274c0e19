"""Render real-time factor: seconds of audio per second of wall time, FluidSynth pinned to one core.

usage: python benchmarks/render_rtf.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from cadenza import io
from cadenza.corpus import load_corpus

from common import one_core_prefix, write_result

SNIPPET = """
import sys
from cadenza import io
from cadenza.render import render_score
render_score(io.read_score(sys.argv[1]), sys.argv[2], sample_rate=int(sys.argv[3]))
"""


def main(n_pieces: int = 8) -> None:
    scores = load_corpus("bach", progress=False).scores[:n_pieces]
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sr in (22050, 44100):
            audio_s, wall_s = 0.0, 0.0
            for i, s in enumerate(scores):
                mid, wav = Path(tmp) / f"{i}.mid", Path(tmp) / f"{i}.wav"
                io.write(s, mid)
                t0 = time.perf_counter()
                subprocess.run(
                    [*one_core_prefix(), sys.executable, "-c", SNIPPET, str(mid), str(wav), str(sr)], check=True
                )
                wall_s += time.perf_counter() - t0
                audio_s += sf.info(str(wav)).duration
            figures[f"rtf_{sr}hz"] = round(audio_s / wall_s, 1)
        figures["audio_s"] = round(audio_s, 1)
    figures["pieces"] = len(scores)
    figures["note"] = "wall time includes starting Python and FluidSynth for each piece"
    write_result("render_rtf", figures, command="python benchmarks/render_rtf.py")


if __name__ == "__main__":
    main()
