"""Corpus load of all 371 Bach chorales: cold (music21 parse, parallel) and warm (parse cache), seconds.

Also: the same cold parse on one process, the baseline a plain music21 loop would take.
usage: python benchmarks/corpus_load.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from common import write_result

SNIPPET = """
import time, sys
t0 = time.perf_counter()
from cadenza.corpus import load_corpus
c = load_corpus('bach', progress=False, workers=int(sys.argv[1]))
print(len(c), sum(s.n_notes for s in c.scores), time.perf_counter() - t0)
"""


def timed(cache: str, workers: int) -> tuple[int, int, float]:
    env = dict(os.environ, CADENZA_CACHE=cache)
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(workers)], env=env, capture_output=True, text=True, check=True
    )
    pieces, notes, seconds = out.stdout.split()
    return int(pieces), int(notes), float(seconds)


def main() -> None:
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as many:
        pieces, notes, cold_1 = timed(one, 1)
        _, _, cold_n = timed(many, os.cpu_count() or 1)
        warm = min(timed(many, 1)[2] for _ in range(3))
    write_result(
        "corpus_load",
        {
            "pieces": pieces,
            "notes": notes,
            "cold_one_process_s": round(cold_1, 2),
            "cold_parallel_s": round(cold_n, 2),
            "parallel_workers": os.cpu_count(),
            "warm_s": round(warm, 3),
            "cold_over_warm": round(cold_1 / warm, 1),
            "warm_target_s": 3.0,
            "warm_meets_target": warm < 3.0,
        },
        command="python benchmarks/corpus_load.py",
    )


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t:.0f} s)")
