"""Listening tests under load on loopback: N simulated listeners rating a MUSHRA test at once, against SQLite and
against a throwaway PostgreSQL server, through the studio's own HTTP server. Reports ratings stored vs sent (lost or
duplicated must be 0), replays refused, and the latency percentiles of a rating request beside those of a static
file fetched under the same load in the same run (the ratio is what carries across machines).

usage: python benchmarks/listen_load.py [--listeners 50] [--trials 6]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from common import write_result

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from test_listen import make_spec  # noqa: E402  (the tests' stimulus maker: tones, a quiet and a noisy copy)


def percentiles(x: list[float]) -> dict[str, float]:
    a = np.asarray(x) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 1), "p95_ms": round(float(np.percentile(a, 95)), 1),
            "p99_ms": round(float(np.percentile(a, 99)), 1), "max_ms": round(float(a.max()), 1)}  # fmt: skip


def static_load(base: str, n: int, per: int) -> list[float]:
    """The baseline: n clients at once, each fetching a static file `per` times (plain HTTP, no database)."""
    import httpx

    def client(_: int) -> list[float]:
        out = []
        with httpx.Client(base_url=base) as c:
            for _ in range(per):
                t0 = time.perf_counter()
                c.get("/static/studio.css").raise_for_status()
                out.append(time.perf_counter() - t0)
        return out

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [x for r in pool.map(client, range(n)) for x in r]


def run(store: str, root: Path, listeners: int, trials: int) -> dict:
    from cadenza.listen.design import create_test, read_manifest
    from cadenza.listen.loadtest import free_port, simulate_listeners
    from cadenza.listen.store import open_store

    folder = root / "test"
    create_test(make_spec(root / "in", trials=trials, seconds=1.0), folder)
    test = read_manifest(folder)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cadenza", "listen", "serve", str(folder), "--db", store,
                               "--port", str(port), "--workspace", str(root / "ws")],
                              stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/static/studio.css", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        static = static_load(base, listeners, trials)
        result = simulate_listeners(base, test.id, listeners)
    finally:
        server.terminate()
        server.wait(10)
    rows = open_store(store).ratings(test.id)
    sent = listeners * len(test.trials) * len(test.conditions)
    unique = len({(r["listener"], r["trial"], r["condition"]) for r in rows})
    rate = percentiles(result["latency_s"])
    base_p = percentiles(static)
    return {"listeners": listeners, "trials_each": len(test.trials), "conditions": len(test.conditions),
            "ratings_sent": sent, "ratings_stored": len(rows), "lost": sent - unique, "duplicated": len(rows) - unique,
            "replays_refused": f"{result['refused_replays']} of {listeners}", "errors": len(result["errors"]),
            "seconds": round(result["seconds"], 2), "rating_request": rate, "static_file_baseline": base_p,
            "p50_ratio_to_static": round(rate["p50_ms"] / max(base_p["p50_ms"], 1e-3), 1),
            "p95_ratio_to_static": round(rate["p95_ms"] / max(base_p["p95_ms"], 1e-3), 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listeners", type=int, default=50)
    ap.add_argument("--trials", type=int, default=6)
    args = ap.parse_args()
    from cadenza.listen.loadtest import postgres_bin, throwaway_postgres

    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = run(str(Path(tmp) / "s" / "ratings.sqlite"), Path(tmp) / "s", args.listeners, args.trials)
        if postgres_bin() is not None:
            with throwaway_postgres() as url:
                figures["postgresql"] = run(url, Path(tmp) / "p", args.listeners, args.trials)
    figures["note"] = ("`cadenza listen serve` (one uvicorn process) on loopback, the listeners threads of this "
                       "process; the baseline is the same number of clients fetching a static file as many times, "
                       "just before; each rating request stores a whole trial (one row per condition) in one "
                       "transaction and answers after the commit")  # fmt: skip
    write_result(
        "listen_load",
        figures,
        command=f"python benchmarks/listen_load.py --listeners {args.listeners} --trials {args.trials}",
    )


if __name__ == "__main__":
    main()
