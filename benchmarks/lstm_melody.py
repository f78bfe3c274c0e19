"""The course's LSTM melody model vs cadenza's default, trained for the same wall time on essen/erk.

Each preset's time per training step is measured first (a few steps on the same data), then each trains through
the CLI (`cadenza train lstm --preset P --steps N`) for as many steps as fit in the budget. Figures: validation
NLL (nats per grid symbol) and next-symbol accuracy on the whole valid split, read from each model's config.
With --ship, the default preset's model is written to models/lstm-essen (the shipped checkpoint).

usage: python benchmarks/lstm_melody.py [--budget SECONDS] [--ship]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from cadenza.corpus import load_corpus
from cadenza.symbolic.lstm import LSTMLM, PRESETS, MelodyWindows, all_positions_loss, last_position_loss, melody_ids

from common import write_result

CORPUS = "essen/erk"
ROOT = Path(__file__).resolve().parents[1]


def seconds_per_step(preset_name: str, songs: list[list[int]]) -> float:
    preset = PRESETS[preset_name]
    torch.manual_seed(0)
    model = LSTMLM(preset.model)
    opt = torch.optim.AdamW(model.parameters(), lr=preset.lr)
    data = MelodyWindows(songs, preset)
    loss_fn = all_positions_loss if preset.all_positions else last_position_loss
    times = []
    for step in range(8):
        t0 = time.perf_counter()
        loss = loss_fn(model, data.batch(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return sorted(times[2:])[len(times[2:]) // 2]  # median after warm-up


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=300.0, help="training seconds per preset")
    ap.add_argument("--ship", action="store_true", help="write the default preset's model to models/lstm-essen")
    args = ap.parse_args()
    torch.set_num_threads(2)
    songs, _ = melody_ids(load_corpus(CORPUS).split("train"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("course", "default"):
            per_step = seconds_per_step(name, songs)
            steps = max(50, int(args.budget / per_step))
            out = ROOT / "models" / "lstm-essen" if (args.ship and name == "default") else Path(tmp) / name
            cmd = ["cadenza", "train", "lstm", "--corpus", CORPUS, "--preset", name, "--steps", str(steps),
                   "--threads", "2", "-o", str(out)]  # fmt: skip
            exe = str(Path(sys.executable).with_name("cadenza"))
            subprocess.run([exe, *cmd[1:]], check=True, cwd=ROOT)
            figures = json.loads((out / "config.json").read_text())["figures"]
            results[name] = {
                "steps": steps,
                "seconds_per_step": round(per_step, 3),
                "train_seconds": round(figures["train_seconds"], 1),
                "valid_nll": round(figures["valid_nll"], 4),
                "valid_bits": round(figures["valid_bits"], 4),
                "valid_accuracy": round(figures["valid_accuracy"], 4),
                "command": " ".join(cmd),
            }
    results["nll_ratio_default_over_course"] = round(
        results["default"]["valid_nll"] / results["course"]["valid_nll"], 3
    )
    results["budget_seconds"] = args.budget
    results["corpus"] = CORPUS
    write_result("lstm_melody", results, command="python benchmarks/lstm_melody.py --ship")


if __name__ == "__main__":
    main()
