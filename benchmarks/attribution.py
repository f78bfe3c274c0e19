"""Technique attribution, re-measured on the shipped models: the held-out pieces (indices 30-39 of each symbolic
source, 22-29 of each audio source: the seeds `cadenza attribute train` held out) are made again from their seeds and
attributed; accuracy over sources and over techniques against chance, and the confusions.

usage: python benchmarks/attribution.py
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from common import write_result

HELD_OUT = {"symbolic": range(30, 40), "audio": range(22, 30)}


def measure(domain: str) -> dict:
    from cadenza import io
    from cadenza.evaluate import attribution as at

    model = at.Attribution.from_pretrained(f"attribution-{domain}")
    sources = at._sources() if domain == "symbolic" else at._audio_sources()  # the data command's own sources
    xs, ys = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in sources.items():
            for i in HELD_OUT[domain]:
                piece = make(i)  # make_dataset's seed for piece i (seed 0)
                if domain == "symbolic":  # through MIDI, as the training pieces went
                    path = Path(tmp) / f"{label}-{i}.mid"
                    io.write(piece, path)
                    piece = io.read(path)[0]
                xs.append(model.features_of(piece))
                ys.append(model.cfg.classes.index(label))
    pred = model.probabilities(np.stack(xs)).argmax(-1)
    y = np.array(ys)
    tech = [c.split("@")[0] for c in model.cfg.classes]
    confusions = Counter((model.cfg.classes[t], model.cfg.classes[p]) for t, p in zip(y, pred) if t != p)
    return {"pieces": len(y), "sources": len(model.cfg.classes), "accuracy": round(float((pred == y).mean()), 3),
            "technique_accuracy": round(float(np.mean([tech[a] == tech[b] for a, b in zip(y, pred)])), 3),
            "chance": round(1 / len(model.cfg.classes), 3),
            "top_confusions": {f"{a} -> {b}": n for (a, b), n in confusions.most_common(5)}}  # fmt: skip


def main() -> None:
    import torch

    torch.set_num_threads(1)
    figures = {d: measure(d) for d in ("symbolic", "audio")}
    write_result("attribution", figures, command="python benchmarks/attribution.py")


if __name__ == "__main__":
    main()
