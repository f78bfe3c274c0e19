"""The shape of the toolkit as a user meets it: start-up of the CLI, first use of a corpus, `make test` and
`make demo`, against an earlier checkout in the same run.

usage: python benchmarks/shape.py [--before DIR] [--make] [--repeats 7]

- start-up: median wall time of `cadenza --help` and `cadenza corpus list` over `--repeats` runs, as a ratio to
  `python -c pass` in the same run (the interpreter's own start);
- first use: `cadenza corpus export essen --piece 10 -o X.abc` from an empty parse cache;
- with `--make`: `make test` and `make demo` wall times (install already done: the stamp exists), one after
  the other, never two at once; `make demo` from an empty parse cache, as on a fresh machine.

`--before DIR` names a checkout of an earlier commit with its own installed `.venv` (e.g.
`git clone -q . /tmp/before && git -C /tmp/before checkout REV && make -C /tmp/before install`); every figure is
then measured for it too, in the same run, and given as a ratio (before / now).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_result

ROOT = Path(__file__).resolve().parents[1]


def wall(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Seconds the command took (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def median_wall(cmd: list[str], cwd: Path, repeats: int) -> float:
    wall(cmd, cwd)  # warm the file cache
    return statistics.median(wall(cmd, cwd) for _ in range(repeats))


def startup(checkout: Path, repeats: int) -> dict[str, float]:
    bin_dir = checkout / ".venv" / "bin"
    python = str(bin_dir / "python")
    base = median_wall([python, "-c", "pass"], checkout, repeats)
    out = {"python_pass_s": round(base, 3)}
    for name, args in (("help", ["--help"]), ("corpus_list", ["corpus", "list"])):
        t = median_wall([str(bin_dir / "cadenza"), *args], checkout, repeats)
        out[f"{name}_s"] = round(t, 3)
        out[f"{name}_over_python"] = round(t / base, 1)
    return out


def first_export(checkout: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, CADENZA_CACHE=str(Path(tmp) / "cache"))
        cmd = [str(checkout / ".venv" / "bin" / "cadenza"), "corpus", "export", "essen", "--piece", "10", "-o",
               str(Path(tmp) / "tune.abc")]  # fmt: skip
        return round(wall(cmd, checkout, env), 1)


def make_times(checkout: Path) -> dict[str, float]:
    out = {"make_test_s": round(wall(["make", "test"], checkout), 1)}
    with tempfile.TemporaryDirectory() as tmp:  # the first `make demo` of a fresh machine: nothing parsed yet
        env = dict(os.environ, CADENZA_CACHE=str(Path(tmp) / "cache"))
        out["make_demo_cold_s"] = round(wall(["make", "demo"], checkout, env), 1)
    return out


def measure(checkout: Path, args: argparse.Namespace) -> dict[str, object]:
    figures: dict[str, object] = {"startup": startup(checkout, args.repeats)}
    figures["first_export_essen_piece_10_s"] = first_export(checkout)
    if args.make:
        figures["make"] = make_times(checkout)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, help="an installed checkout of an earlier commit, measured alike")
    ap.add_argument("--make", action="store_true", help="also time `make test` and `make demo` (minutes)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    now = measure(ROOT, args)
    figures: dict[str, object] = {"now": now}
    if args.before:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.before, capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
        before = measure(args.before, args)
        figures["before"] = {"commit": rev, **before}
        s_now, s_before = now["startup"], before["startup"]  # type: ignore[index]
        figures["before_over_now"] = {
            "help": round(s_before["help_s"] / s_now["help_s"], 1),  # type: ignore[index]
            "corpus_list": round(s_before["corpus_list_s"] / s_now["corpus_list_s"], 1),  # type: ignore[index]
            "first_export": round(before["first_export_essen_piece_10_s"] / now["first_export_essen_piece_10_s"], 1),  # type: ignore[operator]
        }
        if args.make:
            for k in ("make_test_s", "make_demo_cold_s"):
                figures["before_over_now"][k.removesuffix("_s")] = round(  # type: ignore[index]
                    before["make"][k] / now["make"][k],
                    2,  # type: ignore[index]
                )
    print(figures)
    write_result("shape", figures, command="python benchmarks/shape.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
