"""Long work off the web server: one worker process runs the studio's jobs, one at a time, in order.

The page asks for a job and polls its state; the worker reports progress from the library's own tqdm bars (each
`update` of a bar in the worker becomes a fraction and a label on the page). Cancelling a queued job drops it;
cancelling the running job ends the worker process at once (a model's loop need not cooperate) and a fresh worker
takes the next job. Each job loads its model afresh (a second or two for the shipped ones), so a cancelled or
failed job leaves nothing behind.

    jobs = Jobs(workspace / "jobs")
    job = jobs.submit("markov", {"bars": 8, ...}, upload=None)
    jobs.get(job.id).state   # queued | running | done | failed | cancelled
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import queue
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Job:
    id: str
    technique: str
    settings: dict[str, Any]
    upload: str | None
    folder: Path
    state: str = "queued"
    progress: float = 0.0
    label: str = "waiting for the worker"
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    created: float = 0.0
    finished: float = 0.0
    upload_path: str | None = None

    def task(self) -> tuple[str, str, dict[str, Any], str | None, str]:
        """What the worker is sent."""
        return self.id, self.technique, self.settings, self.upload_path, str(self.folder)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "technique": self.technique, "state": self.state, "progress": round(self.progress, 3),
                "label": self.label, "result": self.result, "error": self.error, "settings": self.settings}  # fmt: skip


def _worker(tasks: Any, events: Any) -> None:
    """The worker process: runs (job id, technique, settings, upload, folder) tasks, reports events."""
    import tqdm.std

    from cadenza.errors import CadenzaError
    from cadenza.studio.techniques import technique, write_result

    current: dict[str, str] = {}
    update = tqdm.std.tqdm.update

    def reporting_update(bar: Any, n: float | None = 1) -> bool | None:
        done = update(bar, n)
        total = getattr(bar, "total", None)
        if current and total and not getattr(bar, "disable", False):  # a disabled bar has no desc or count
            events.put(("progress", current["id"], min(1.0, bar.n / total), str(getattr(bar, "desc", "") or "working")))
        return done

    tqdm.std.tqdm.update = reporting_update  # type: ignore[method-assign]
    parent = mp.parent_process()
    while True:
        try:
            task = tasks.get(timeout=2.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():  # the studio is gone: so is its worker
                return
            continue
        if task is None:
            return
        job_id, name, settings, upload, folder = task
        current["id"] = job_id
        events.put(("running", job_id))
        try:
            result, lines = technique(name).run(settings, Path(upload) if upload else None)
            events.put(("done", job_id, write_result(result, lines, Path(folder))))
        except CadenzaError as e:
            events.put(("failed", job_id, str(e)))
        except Exception as e:  # a bug: say what, keep the worker alive for the next job
            traceback.print_exc()
            events.put(("failed", job_id, f"internal error: {type(e).__name__}: {e}"))
        current.clear()


class Jobs:
    """The job table and the worker process behind it (thread-safe)."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time, max_jobs: int = 500) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock, self.max_jobs = clock, max_jobs
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._ctx = mp.get_context("spawn")
        self._events: Any = self._ctx.Queue()
        self._start_worker()
        self._listener = threading.Thread(target=self._listen, daemon=True, name="studio-jobs")
        self._listener.start()
        atexit.register(self.close)

    def _start_worker(self) -> None:
        self._tasks: Any = self._ctx.Queue()
        # not a daemon: a job may start processes of its own (a corpus parsed in parallel); `close` ends it, at exit
        # too, and it ends itself if the studio dies
        self._process = self._ctx.Process(target=_worker, args=(self._tasks, self._events), daemon=False)
        self._process.start()
        self._running: str | None = None

    def submit(self, technique: str, settings: dict[str, Any], upload: Path | None) -> Job:
        job_id = secrets.token_hex(8)
        folder = self.folder / job_id
        folder.mkdir()
        job = Job(job_id, technique, settings, upload.name if upload else None, folder, created=self.clock(),
                  upload_path=str(upload) if upload else None)  # fmt: skip
        with self._lock:
            if len(self.jobs) >= self.max_jobs:  # forget the oldest finished job's entry (its files stay)
                oldest = min((j for j in self.jobs.values() if j.state not in ("queued", "running")),
                             key=lambda j: j.created, default=None)  # fmt: skip
                if oldest is not None:
                    del self.jobs[oldest.id]
            self.jobs[job_id] = job
            self._tasks.put(job.task())
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(job_id)

    def finished(self) -> list[Job]:
        """The jobs done, oldest first."""
        with self._lock:
            return sorted((j for j in self.jobs.values() if j.state == "done"), key=lambda j: j.created)

    def cancel(self, job_id: str) -> Job | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.state not in ("queued", "running"):
                return job
            was_running = job.state == "running"
            job.state, job.label, job.finished = "cancelled", "cancelled", self.clock()
            if was_running:  # end the worker; requeue the jobs still waiting on a fresh one
                self._process.kill()
                self._process.join(5)
                self._restart([j for j in self.jobs.values() if j.state == "queued"])
        return job

    def _listen(self) -> None:
        while not self._closed:
            try:
                event = self._events.get(timeout=1.0)
            except queue.Empty:
                self._check_worker()
                continue
            except (EOFError, OSError):
                return
            with self._lock:
                job = self.jobs.get(event[1])
                if job is None or job.state in ("cancelled", "done", "failed"):
                    continue
                kind = event[0]
                if kind == "running":
                    job.state, job.label = "running", "loading the model"
                elif kind == "progress":
                    job.progress, job.label = event[2], event[3]
                elif kind == "done":
                    job.state, job.progress, job.label, job.result = "done", 1.0, "done", event[2]
                    job.finished = self.clock()
                elif kind == "failed":
                    job.state, job.label, job.error, job.finished = "failed", "failed", event[2], self.clock()

    def _check_worker(self) -> None:
        """A worker that died on its own (out of memory, a crash in native code): fail its job, start another."""
        with self._lock:
            if self._closed or self._process.is_alive():
                return
            for j in self.jobs.values():
                if j.state == "running":
                    j.state, j.label, j.error = "failed", "failed", "the worker process died (out of memory?)"
            self._restart([j for j in self.jobs.values() if j.state == "queued"])

    def _restart(self, waiting: list[Job]) -> None:
        """A fresh worker, given the jobs still waiting, in their order (the lock is held)."""
        self._start_worker()
        for j in sorted(waiting, key=lambda j: j.created):
            self._tasks.put(j.task())

    def close(self) -> None:
        import contextlib

        with self._lock:
            self._closed = True
        with contextlib.suppress(Exception):
            self._tasks.put(None)
            self._process.join(2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2)
