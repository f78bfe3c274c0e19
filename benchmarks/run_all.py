"""Run every benchmark, then regenerate BENCHMARKS.md. usage: python benchmarks/run_all.py"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "corpus_load.py", "midi_read.py", "render_rtf.py", "train_bf16.py", "markov.py", "harmonize.py",
    "music_transformer.py", "lstm_melody.py", "bachbot.py", "abc_lm.py", "ddsp.py", "noisebandnet.py", "gansynth.py",
    "smf.py", "codec.py", "rave.py", "rave_textures.py", "synthformer.py", "vampnet.py", "text2music.py",
    "token_parts.py", "audio_eval.py", "listen_load.py", "attribution.py",
]  # fmt: skip

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)
    subprocess.run([sys.executable, str(HERE / "make_report.py")], check=True)
