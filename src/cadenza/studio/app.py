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

import re
import secrets
from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError
from cadenza.studio.jobs import Jobs
from cadenza.studio.techniques import TECHNIQUES, technique
from cadenza.studio.templating import HERE, render

MAX_UPLOAD = 20 * 1024 * 1024  # bytes
JOB_ID = re.compile(r"^[0-9a-f]{16}$")


def _error(status: int, message: str) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


class Studio:
    """The app's state: the workspace folder (uploads, jobs, tests, the ratings database) and the job worker."""

    def __init__(self, workspace: Path, jobs: Jobs | None = None, listen: Any = None) -> None:
        self.workspace = Path(workspace)
        (self.workspace / "uploads").mkdir(parents=True, exist_ok=True)
        self.jobs = jobs if jobs is not None else Jobs(self.workspace / "jobs")
        self.listen = listen

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
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_UPLOAD + 64 * 1024:
            return _error(413, f"the upload is over {MAX_UPLOAD // 2**20} MB")
        try:
            form = await request.form(max_files=1, max_fields=50)
        except Exception as e:  # a malformed multipart body
            return _error(400, f"bad form ({type(e).__name__})")
        try:
            t = technique(str(form.get("technique", "")))
        except CadenzaError as e:
            return _error(404, str(e))
        try:
            settings = t.parse({k: v for k, v in form.items() if isinstance(v, str)})
        except CadenzaError as e:
            return _error(400, str(e))
        upload = form.get("file")
        path = None
        if upload is not None and not isinstance(upload, str) and upload.filename:
            if t.upload is None:
                return _error(400, f"{t.title} takes no upload")
            suffix = Path(upload.filename).suffix.lower()
            if suffix not in t.suffixes:
                return _error(415, f"{upload.filename}: {t.title} takes {', '.join(t.suffixes)} files")
            data = await upload.read(MAX_UPLOAD + 1)
            if len(data) > MAX_UPLOAD:
                return _error(413, f"{upload.filename}: over {MAX_UPLOAD // 2**20} MB")
            if not data:
                return _error(400, f"{upload.filename}: empty file")
            path = self.workspace / "uploads" / f"{secrets.token_hex(12)}{suffix}"
            path.write_bytes(data)
        elif t.upload_required:
            return _error(400, f"{t.title} needs a file ({', '.join(t.suffixes)})")
        job = self.jobs.submit(t.name, settings, path)
        return self._json(job.public(), 202)

    @staticmethod
    def _json(data: Any, status: int = 200) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse(data, status_code=status)

    def _job(self, request: Any) -> Any:
        job_id = request.path_params["id"]
        return self.jobs.get(job_id) if JOB_ID.match(job_id) else None

    async def status(self, request: Any) -> Any:
        job = self._job(request)
        return self._json(job.public()) if job else _error(404, "no such job")

    async def cancel(self, request: Any) -> Any:
        job = self._job(request)
        if job is None:
            return _error(404, "no such job")
        return self._json(self.jobs.cancel(job.id).public())  # type: ignore[union-attr]

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
