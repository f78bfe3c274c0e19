"""The studio: a local web app (Starlette, server-rendered pages, a little JavaScript; every asset served by the
app itself, so it works offline) that serves every technique and the listening tests.

    GET  /                        every technique, grouped (symbolic, audio), and the listening tests
    GET  /t/{technique}           its settings, an upload where it takes one, Generate; then listen, look, download
    POST /api/jobs                start a job (multipart: technique, settings, file) -> {"id": ...}
    GET  /api/jobs/{id}           its state and progress; POST /api/jobs/{id}/cancel stops it
    GET  /jobs/{id}/{file}        a file the job made (only those it lists)
    /listen/...                   the listening tests (`cadenza.listen.web`)

It binds to 127.0.0.1 unless told otherwise; uploads are bounded in size and type and stored under generated names;
no request names a path on the disk.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError, InputError
from cadenza.studio.jobs import Jobs
from cadenza.studio.techniques import TECHNIQUES, technique
from cadenza.studio.templating import HERE, render

MAX_UPLOAD = 20 * 1024 * 1024  # bytes
JOB_ID = re.compile(r"^[0-9a-f]{16}$")


def _error(status: int, message: str) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


class Refused(Exception):
    """A request the studio turns down: an HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> Any:
        return _error(self.status, str(self))


async def read_form(request: Any, max_fields: int = 50) -> Any:
    """The request's form, refused past the upload limit (by its declared length) or when malformed."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD + 64 * 1024:
        raise Refused(413, f"the upload is over {MAX_UPLOAD // 2**20} MB")
    try:
        return await request.form(max_files=1, max_fields=max_fields)
    except Exception as e:  # a malformed multipart body
        raise Refused(400, f"bad form ({type(e).__name__})") from None


def has_file(form: Any) -> bool:
    upload = form.get("file")
    return upload is not None and not isinstance(upload, str) and bool(upload.filename)


async def read_upload(form: Any, suffixes: tuple[str, ...]) -> tuple[str, str, bytes] | None:
    """The form's file as (its name, its suffix, its bytes), or None without one; refused if of another type, over
    the limit (counted as read, whatever the headers said) or empty."""
    if not has_file(form):
        return None
    upload = form.get("file")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in suffixes:
        raise Refused(415, f"{upload.filename}: give one of {', '.join(suffixes)}")
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise Refused(413, f"{upload.filename}: over {MAX_UPLOAD // 2**20} MB")
    if not data:
        raise Refused(400, f"{upload.filename}: empty file")
    return upload.filename, suffix, data


class Studio:
    """The app's state: the workspace folder (uploads, jobs, tests, the ratings database) and the job worker."""

    def __init__(self, workspace: Path, jobs: Jobs | None = None, listen: Any = None) -> None:
        self.workspace = Path(workspace)
        (self.workspace / "uploads").mkdir(parents=True, exist_ok=True)
        self._jobs = jobs
        self._start = threading.Lock()
        self.listen = listen
        self._attribution: dict[str, Any] = {}

    @property
    def jobs(self) -> Jobs:
        """The job worker, started at the first job (a server of listening tests alone never starts one)."""
        with self._start:
            if self._jobs is None:
                self._jobs = Jobs(self.workspace / "jobs")
            return self._jobs

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close()

    async def index(self, request: Any) -> Any:
        groups = {g: [t for t in TECHNIQUES if t.group == g] for g in ("symbolic", "audio")}
        tests = list(self.listen.tests.values()) if self.listen else []
        return render(request, "index.html", {"groups": groups, "tests": tests})

    async def page(self, request: Any) -> Any:
        from starlette.exceptions import HTTPException

        try:
            t = technique(request.path_params["name"])
        except CadenzaError:
            raise HTTPException(404, "no such technique") from None
        accept = ",".join(t.suffixes)
        return render(request, "technique.html", {"t": t, "accept": accept, "max_mb": MAX_UPLOAD // 2**20,
                                                  "techniques": TECHNIQUES})  # fmt: skip

    async def submit(self, request: Any) -> Any:
        try:
            form = await read_form(request)
            try:
                t = technique(str(form.get("technique", "")))
            except CadenzaError as e:
                raise Refused(404, str(e)) from None
            try:
                settings = t.parse({k: v for k, v in form.items() if isinstance(v, str)})
            except CadenzaError as e:
                raise Refused(400, str(e)) from None
            if t.upload is None and has_file(form):
                raise Refused(400, f"{t.title} takes no upload")
            upload = await read_upload(form, t.suffixes) if t.upload else None
            if upload is None and t.upload_required:
                raise Refused(400, f"{t.title} needs a file ({', '.join(t.suffixes)})")
        except Refused as e:
            return e.response()
        path = None
        if upload is not None:
            path = self.workspace / "uploads" / f"{secrets.token_hex(12)}{upload[1]}"
            path.write_bytes(upload[2])
        job = self.jobs.submit(t.name, settings, path)
        return self._json(job.public(), 202)

    @staticmethod
    def _json(data: Any, status: int = 200) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse(data, status_code=status)

    def _job(self, request: Any) -> Any:
        job_id = request.path_params["id"]
        return self._jobs.get(job_id) if self._jobs is not None and JOB_ID.match(job_id) else None

    async def status(self, request: Any) -> Any:
        job = self._job(request)
        return self._json(job.public()) if job else _error(404, "no such job")

    async def cancel(self, request: Any) -> Any:
        job = self._job(request)
        if job is None:
            return _error(404, "no such job")
        return self._json(self.jobs.cancel(job.id).public())  # type: ignore[union-attr]

    def _finished(self) -> dict[str, list[Any]]:
        """Finished jobs with audio, by technique, oldest first."""
        out: dict[str, list[Any]] = {}
        if self._jobs is None:
            return out
        done = [j for j in self.jobs.finished() if j.result.get("audio")]
        for j in done:
            out.setdefault(j.technique, []).append(j)
        return out

    async def new_test_page(self, request: Any) -> Any:
        finished = {t: len(js) for t, js in self._finished().items()}
        return render(request, "new_test.html", {"finished": finished})

    async def new_test(self, request: Any) -> Any:
        """A listening test from the studio: technique A's outputs against technique B's (the i-th against the
        i-th), as an A/B preference or a MOS test."""
        import tempfile

        from starlette.concurrency import run_in_threadpool

        from cadenza.listen.design import create_test

        form = await request.form(max_files=0, max_fields=10)
        kind, a, b = str(form.get("type", "ab")), str(form.get("a", "")), str(form.get("b", ""))
        name = str(form.get("name", "")).strip()[:80] or f"{a} vs {b}"
        finished = self._finished()
        if kind not in ("ab", "mos"):
            return _error(400, "type must be ab or mos")
        if a not in finished or b not in finished or a == b:
            return _error(400, "choose two different techniques that have finished outputs")
        pairs = min(len(finished[a]), len(finished[b]))
        folder = self.workspace / "tests" / f"{a}-vs-{b}-{secrets.token_hex(3)}"

        def run() -> Any:
            with tempfile.TemporaryDirectory() as tmp:
                for cond in (a, b):
                    (Path(tmp) / cond).mkdir()
                    for i, job in enumerate(finished[cond][:pairs]):
                        (Path(tmp) / cond / f"pair{i + 1}.wav").symlink_to(job.folder / job.result["audio"])
                spec = Path(tmp) / "test.toml"
                spec.write_text(f"name = {json.dumps(name)}\ntype = {json.dumps(kind)}\n[conditions]\n"
                                f"{json.dumps(a)} = {json.dumps(a)}\n{json.dumps(b)} = {json.dumps(b)}\n")  # fmt: skip
                create_test(spec, folder)
            return self.listen.add(folder)

        try:
            test = await run_in_threadpool(run)
        except CadenzaError as e:
            return _error(400, str(e))
        return self._json({"id": test.manifest.id, "listen": f"/listen/{test.manifest.id}", "trials": pairs,
                           "results": f"/listen/{test.manifest.id}/results?key={test.key}"})  # fmt: skip

    async def attribute_page(self, request: Any) -> Any:
        from cadenza.studio.techniques import AUDIO_SUFFIXES, SCORE_SUFFIXES

        accept = ",".join(SCORE_SUFFIXES + AUDIO_SUFFIXES)
        return render(request, "attribute.html", {"accept": accept, "max_mb": MAX_UPLOAD // 2**20})

    async def attribute(self, request: Any) -> Any:
        """Reverse engineering: the likely techniques of an uploaded score or recording, and its telling features
        beside theirs."""
        import tempfile

        from starlette.concurrency import run_in_threadpool

        from cadenza.studio.techniques import AUDIO_SUFFIXES, SCORE_SUFFIXES

        try:
            upload = await read_upload(await read_form(request, max_fields=5), SCORE_SUFFIXES + AUDIO_SUFFIXES)
            if upload is None:
                raise Refused(400, "give a score (MIDI, MusicXML, ABC) or a recording (WAV, FLAC, Ogg)")
        except Refused as e:
            return e.response()
        filename, suffix, data = upload

        def run() -> dict[str, Any]:
            from cadenza.cli.attribute import read_piece
            from cadenza.evaluate.attribution import Attribution

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"upload{suffix}"
                path.write_bytes(data)
                try:
                    piece, shipped = read_piece(str(path))
                except InputError as e:  # name the user's file, not the temporary copy
                    raise InputError(filename, e.problem) from None
            if shipped not in self._attribution:
                self._attribution[shipped] = Attribution.from_pretrained(shipped)
            return dict(self._attribution[shipped].attribute(piece))

        try:
            return self._json(await run_in_threadpool(run))
        except CadenzaError as e:
            return _error(400, str(e))

    async def file(self, request: Any) -> Any:
        from starlette.responses import FileResponse

        job = self._job(request)
        name = request.path_params["file"]
        if job is None or job.state != "done":
            return _error(404, "no such job, or it is not done")
        listed = {job.result.get("audio"), job.result.get("image"), *job.result.get("downloads", [])}
        if name not in listed:
            return _error(404, "no such file in this job")
        media = {".wav": "audio/wav", ".png": "image/png", ".mid": "audio/midi", ".xml": "application/xml",
                 ".abc": "text/vnd.abc"}.get(Path(name).suffix, "application/octet-stream")  # fmt: skip
        download = request.query_params.get("download") == "1"
        stem = f"cadenza-{job.technique}-{job.id[:6]}{Path(name).suffix}"
        return FileResponse(job.folder / name, media_type=media, filename=stem if download else None)


def create_app(workspace: str | Path, *, store: str | None = None, tests: list[Path] | None = None,
               jobs: Jobs | None = None) -> Any:  # fmt: skip
    """The studio's ASGI app over a workspace folder; `store` a SQLite path or PostgreSQL URL for the ratings
    (default: WORKSPACE/ratings.sqlite); `tests` prepared test folders (default: every folder in WORKSPACE/tests)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from cadenza.listen.store import open_store
    from cadenza.listen.web import ListenApp

    ws = Path(workspace)
    ws.mkdir(parents=True, exist_ok=True)
    if tests is None:
        tests = sorted(p for p in (ws / "tests").glob("*") if (p / "test.json").is_file())
    listen = ListenApp(tests, open_store(store or ws / "ratings.sqlite"))
    studio = Studio(ws, jobs, listen)
    routes = [
        Route("/", studio.index),
        Route("/t/{name}", studio.page),
        Route("/api/jobs", studio.submit, methods=["POST"]),
        Route("/api/jobs/{id}", studio.status),
        Route("/api/jobs/{id}/cancel", studio.cancel, methods=["POST"]),
        Route("/jobs/{id}/{file}", studio.file),
        Route("/attribute", studio.attribute_page),
        Route("/tests/new", studio.new_test_page),
        Route("/api/tests", studio.new_test, methods=["POST"]),
        Route("/api/attribute", studio.attribute, methods=["POST"]),
        *listen.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.studio = studio
    return app


class SecurityHeaders:
    """Pure ASGI middleware: nothing but this app's own scripts, no framing, no type sniffing."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", b"default-src 'self'; media-src 'self' blob:; img-src 'self' data:"),
                    (b"referrer-policy", b"no-referrer"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
