"""Load on loopback: simulated listeners rating a served test at once, and a throwaway PostgreSQL server.

`simulate_listeners` opens the test link N times concurrently, and each listener rates every trial (then replays
one rating, which must be refused); it returns the HTTP outcomes and the latency of each rating request, so a test
can check that no rating was lost or duplicated and a benchmark can report percentiles. Traffic goes only to the
URL given (a loopback address).

`throwaway_postgres` starts a private PostgreSQL server from Debian's package (initdb in a temporary folder, a free
loopback port, trust authentication) and yields its URL; it is stopped and deleted afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from glob import glob
from pathlib import Path
from typing import Any

CONFIG_TAG = '<script id="config" type="application/json">'


def _listener(base: str, test_id: str, replay: bool) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = {"stored": 0, "refused_replays": 0, "errors": [], "latency_s": []}
    with httpx.Client(base_url=base, timeout=60.0) as c:
        r = c.post(f"/listen/{test_id}/start", follow_redirects=False)
        if r.status_code != 303:
            out["errors"].append(f"start: {r.status_code}")
            return out
        page = r.headers["location"]
        last = None
        while True:
            html = c.get(page).text
            if CONFIG_TAG not in html:
                break
            config = json.loads(html.split(CONFIG_TAG)[1].split("</script>")[0])
            slots = [s["slot"] for s in config["slots"]]
            scores = {s: {"ab": int(k == 0), "mos": 1 + k % 5}.get(config["type"], 17 * k % 101)
                      for k, s in enumerate(slots)}  # fmt: skip
            last = {"screen": config["screen"], "scores": scores, "plays": dict.fromkeys(slots, 1), "seconds": 5.0}
            t0 = time.perf_counter()
            r = c.post(config["rate_url"], json=last)
            out["latency_s"].append(time.perf_counter() - t0)
            if r.status_code == 200:
                out["stored"] += int(r.json()["stored"])
            else:
                out["errors"].append(f"rate: {r.status_code} {r.text[:80]}")
                break
        if replay and last is not None:
            r = c.post(config["rate_url"], json=last)
            out["refused_replays"] += int(r.status_code == 409)
    return out


def simulate_listeners(base: str, test_id: str, n: int, *, replay: bool = True) -> dict[str, Any]:
    """N listeners at once (one thread each) against `base` (e.g. http://127.0.0.1:PORT): totals and latencies."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        runs = list(pool.map(lambda _: _listener(base, test_id, replay), range(n)))
    return {"listeners": n, "seconds": time.perf_counter() - t0, "stored": sum(r["stored"] for r in runs),
            "refused_replays": sum(r["refused_replays"] for r in runs),
            "errors": [e for r in runs for e in r["errors"]],
            "latency_s": [x for r in runs for x in r["latency_s"]]}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL programs (initdb, pg_ctl), if installed."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A private PostgreSQL server on a free loopback port; yields its URL. Run as root, the server runs as the
    `postgres` user (PostgreSQL refuses root)."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (make system installs Debian's postgresql)")
    root = Path(tempfile.mkdtemp(prefix="cadenza-pg-"))
    os.chmod(root, 0o755)
    data, port = root / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    run = {"check": True, "capture_output": True, "text": True}
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "cadenza", "-N"],
                       **run)  # type: ignore[call-overload]  # fmt: skip
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                        "-w", "start"], **run)  # type: ignore[call-overload]  # fmt: skip
        yield f"postgresql://cadenza@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
