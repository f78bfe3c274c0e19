"""NoiseBandNet vs DDSP's filtered noise on procedural textures: same network, same data, same steps.

usage: python benchmarks/noisebandnet.py [--steps 600] [--kinds wind rain ...] [--threads 2]

For each texture kind, both synths are trained on the kind's train clips (`cadenza data textures`, 30 clips of
6 s per kind, seed 0) with the same GRU controller, controls (loudness, spectral centroid), loss
(multi-resolution STFT), optimizer and number of steps; the wall time of each is reported. Figures: the
multi-resolution STFT distance on the kind's held-out (valid + test) clips, driven by their own controls
(lower is better). The paper reports NoiseBandNet ahead of DDSP's noise synth in 9 of 10 categories.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from cadenza.audio import noisebandnet as nbn
from cadenza.audio.textures import KINDS, build_textures
from cadenza.train.loop import TrainConfig

from common import write_result

CACHE = Path.home() / ".cache" / "cadenza" / "bench"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--kinds", nargs="+", default=sorted(KINDS))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    data = CACHE / "textures-30x6s-seed0"
    if not (data / "manifest.jsonl").exists():
        build_textures(sorted(KINDS), data, n_clips=30, duration_s=6.0, seed=0, progress=False)
    rows: dict[str, dict[str, float]] = {}
    wins = 0
    for kind in args.kinds:
        row: dict[str, float] = {}
        for synth in ("noisebands", "ddsp-noise"):
            cfg = nbn.NoiseBandConfig(synth=synth)
            tc = TrainConfig(max_steps=args.steps, lr=1e-3, warmup_steps=50, eval_every=args.steps,
                             checkpoint_every=args.steps, threads=args.threads)  # fmt: skip
            run = Path(tempfile.mkdtemp(prefix=f"nbn-{kind}-{synth}-"))
            try:
                t0 = time.perf_counter()
                model, _ = nbn.train_noiseband(data, run, cfg, tc, kind=kind, progress=False)
                seconds = time.perf_counter() - t0
            finally:
                shutil.rmtree(run)
            held = [c for split in ("valid", "test") for c in nbn.load_texture_clips(data, split, cfg, kind, False)]
            torch.manual_seed(0)
            row[f"{synth}_mrstft"] = round(nbn.evaluate_noiseband(model, held), 4)
            row[f"{synth}_train_s"] = round(seconds, 1)
            row["held_out_clips"] = len(held)
        wins += row["noisebands_mrstft"] < row["ddsp-noise_mrstft"]
        rows[kind] = row
        print(kind, row, flush=True)
    figures = {"steps": args.steps, "threads": args.threads, "per_kind": rows,
               "noisebandnet_better_in": f"{wins} of {len(rows)}"}  # fmt: skip
    write_result("noisebandnet", figures, command="python benchmarks/noisebandnet.py")


if __name__ == "__main__":
    main()
