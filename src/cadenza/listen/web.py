"""The listener's side of a test, as Starlette routes (mounted by `cadenza listen serve` and by the studio).

    GET  /listen/{test}                      welcome page (a Start button)
    POST /listen/{test}/start                a new listener: an unguessable token, a seed for their order
    GET  /listen/{test}/{token}              the next trial (or a thank-you page)
    GET  /listen/{test}/{token}/audio/{screen}/{slot}   a stimulus, by its blind slot letter
    POST /listen/{test}/{token}/rate         one trial's scores: stored, then acknowledged
    GET  /listen/{test}/results?key=KEY      results, for whoever holds the test's owner key

Listeners see slots (A, B, ...) in an order drawn from their own seed, never condition names; a request names
tests, screens and slots, never a file, so no path reaches the disk unchecked.
"""

from __future__ import annotations

import hmac
import json
import random
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadenza.listen.design import HIDDEN_REFERENCE, Manifest, read_manifest
from cadenza.listen.store import AlreadyRated, Rating, Store

SLOTS = string.ascii_uppercase
MAX_BODY = 64 * 1024


@dataclass
class Screen:
    """What one page asks of a listener: a trial and the conditions it shows, in the listener's order."""

    trial: str
    conditions: list[str]


def screens(manifest: Manifest, seed: int) -> list[Screen]:
    """A listener's pages in order: trials shuffled by their seed, conditions shuffled per trial (MUSHRA: every
    condition on one page; A/B: the two, in a random order; MOS: one stimulus a page)."""
    rng = random.Random(seed)
    out: list[Screen] = []
    for trial in manifest.trials:
        conds = list(manifest.conditions)
        rng.shuffle(conds)
        if manifest.type == "mos":
            out += [Screen(trial, [c]) for c in conds]
        else:
            out.append(Screen(trial, conds))
    rng.shuffle(out)
    return out


@dataclass
class Test:
    folder: Path
    manifest: Manifest
    key: str


class ListenApp:
    """The tests a server offers (by id) and the store their ratings go to."""

    def __init__(self, folders: list[Path], store: Store) -> None:
        self.store = store
        self.tests: dict[str, Test] = {}
        for folder in folders:
            self.add(folder)

    def add(self, folder: Path) -> Test:
        m = read_manifest(folder)
        key_file = Path(folder) / "owner.key"
        if not key_file.is_file():
            import secrets

            from cadenza.io.files import write_text_atomic

            write_text_atomic(key_file, secrets.token_urlsafe(18))
        test = self.tests[m.id] = Test(Path(folder), m, key_file.read_text().strip())
        return test

    def routes(self) -> list[Any]:
        from starlette.routing import Route

        return [
            Route("/listen/{test}", self.welcome),
            Route("/listen/{test}/start", self.start, methods=["POST"]),
            Route("/listen/{test}/results", self.results),
            Route("/listen/{test}/results.csv", self.results_csv),
            Route("/listen/{test}/results.png", self.results_png),
            Route("/listen/{test}/{token}", self.trial),
            Route("/listen/{test}/{token}/audio/{screen:int}/{slot}", self.audio),
            Route("/listen/{test}/{token}/rate", self.rate, methods=["POST"]),
        ]

    # -------------------------------------------------------------------------------------------- helpers

    def _test(self, request: Any) -> Test:
        from starlette.exceptions import HTTPException

        test = self.tests.get(request.path_params["test"])
        if test is None:
            raise HTTPException(404, "no such test")
        return test

    def _listener(self, request: Any) -> tuple[Test, str, list[Screen]]:
        from starlette.exceptions import HTTPException

        test = self._test(request)
        token = request.path_params["token"]
        seed = self.store.listener(test.manifest.id, token)
        if seed is None:
            raise HTTPException(404, "no such listener link")
        return test, token, screens(test.manifest, seed)

    def _owner(self, request: Any) -> Test:
        from starlette.exceptions import HTTPException

        test = self._test(request)
        if not hmac.compare_digest(request.query_params.get("key", ""), test.key):
            raise HTTPException(403, "the results need the test's owner key (printed by `cadenza listen serve`)")
        return test

    def _done(self, test: Test, token: str) -> set[tuple[str, str]]:
        return self.store.rated(test.manifest.id, token)

    # -------------------------------------------------------------------------------------------- pages

    async def welcome(self, request: Any) -> Any:
        from cadenza.studio.templating import render

        test = self._test(request)
        closed = self.store.is_closed(test.manifest.id)
        return render(request, "listen_welcome.html", {"test": test.manifest, "closed": closed},
                      status=410 if closed else 200)  # fmt: skip

    async def start(self, request: Any) -> Any:
        from starlette.exceptions import HTTPException
        from starlette.responses import RedirectResponse

        test = self._test(request)
        if self.store.is_closed(test.manifest.id):
            raise HTTPException(410, "this test is closed")
        token, _ = self.store.add_listener(test.manifest.id)
        return RedirectResponse(f"/listen/{test.manifest.id}/{token}", status_code=303)

    async def trial(self, request: Any) -> Any:
        from cadenza.studio.templating import render

        test, token, pages = self._listener(request)
        done = self._done(test, token)
        todo = [i for i, s in enumerate(pages) if not all((s.trial, c) in done for c in s.conditions)]
        m = test.manifest
        if not todo:
            return render(request, "listen_done.html", {"test": m, "n": len(pages)})
        i = todo[0]
        base = f"/listen/{m.id}/{token}"
        slots = [{"slot": SLOTS[k], "url": f"{base}/audio/{i}/{SLOTS[k]}"} for k in range(len(pages[i].conditions))]
        context = {"test": m, "page": len(pages) - len(todo) + 1, "pages": len(pages), "screen": i,
                   "slots": slots, "rate_url": f"{base}/rate", "next_url": base,
                   "reference": f"{base}/audio/{i}/REF" if m.type == "mushra" else None,
                   "closed": self.store.is_closed(m.id)}  # fmt: skip
        context["config"] = json.dumps({k: context[k] for k in ("screen", "slots", "rate_url", "next_url", "reference")}
                                       | {"type": m.type})  # fmt: skip
        return render(request, f"listen_{m.type}.html", context)

    async def audio(self, request: Any) -> Any:
        from starlette.exceptions import HTTPException
        from starlette.responses import FileResponse

        test, _, pages = self._listener(request)
        i, slot = request.path_params["screen"], request.path_params["slot"]
        if not 0 <= i < len(pages):
            raise HTTPException(404, "no such trial")
        page = pages[i]
        if slot == "REF" and test.manifest.type == "mushra":
            condition = "open"
        elif len(slot) == 1 and slot in SLOTS[: len(page.conditions)]:
            condition = page.conditions[SLOTS.index(slot)]
        else:
            raise HTTPException(404, "no such slot")
        path = test.manifest.stimulus(test.folder, page.trial, condition)
        return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"})

    async def rate(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        test, token, pages = self._listener(request)
        m = test.manifest
        if self.store.is_closed(m.id):
            return JSONResponse({"error": "this test is closed; no rating is taken"}, status_code=410)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        try:
            data = json.loads(body)
            i = int(data["screen"])
            page = pages[i] if 0 <= i < len(pages) else None
            if page is None:
                raise ValueError("no such trial")
            ratings = self._parse(m.type, page, data)
        except (ValueError, KeyError, TypeError) as e:
            return JSONResponse({"error": f"bad rating: {e}"}, status_code=400)
        try:
            self.store.add_ratings(m.id, token, page.trial, ratings)
        except AlreadyRated:
            return JSONResponse({"error": "this trial is rated already; nothing was changed"}, status_code=409)
        return JSONResponse({"stored": len(ratings), "next": f"/listen/{m.id}/{token}"})

    @staticmethod
    def _parse(kind: str, page: Screen, data: dict[str, Any]) -> list[Rating]:
        scores, plays = data["scores"], data.get("plays", {})
        seconds = float(data.get("seconds", 0.0))
        if not isinstance(scores, dict) or not isinstance(plays, dict) or not 0 <= seconds < 86400:
            raise ValueError("scores and plays must be objects, seconds a duration")
        slots = SLOTS[: len(page.conditions)]
        if set(scores) != set(slots):
            raise ValueError(f"expected scores for slots {', '.join(slots)}")
        low, high = {"mushra": (0, 100), "mos": (1, 5), "ab": (0, 1)}[kind]
        out = []
        for k, slot in enumerate(slots):
            score = float(scores[slot])
            if not low <= score <= high or score != score:
                raise ValueError(f"slot {slot}: score {score} outside {low}..{high}")
            out.append(Rating(page.conditions[k], score, seconds, int(plays.get(slot, 0))))
        if kind == "ab" and sum(r.score for r in out) != 1:
            raise ValueError("an A/B trial prefers exactly one of the two")
        return out

    async def results(self, request: Any) -> Any:
        from cadenza.listen.analysis import analyze
        from cadenza.studio.templating import render

        test = self._owner(request)
        res = analyze(test.manifest, self.store.ratings(test.manifest.id))
        return render(request, "listen_results.html", {"test": test.manifest, "res": res,
                      "key": request.query_params["key"], "hidden": HIDDEN_REFERENCE,
                      "closed": self.store.is_closed(test.manifest.id)})  # fmt: skip

    async def results_png(self, request: Any) -> Any:
        """The mean and 95% CI per condition, drawn (matplotlib, in a worker thread)."""
        import tempfile

        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        from cadenza.listen.analysis import analyze, results_png

        test = self._owner(request)

        def draw() -> bytes:
            with tempfile.TemporaryDirectory() as tmp:
                res = analyze(test.manifest, self.store.ratings(test.manifest.id))
                return results_png(res, Path(tmp) / "r.png").read_bytes()

        return Response(await run_in_threadpool(draw), media_type="image/png", headers={"Cache-Control": "no-store"})

    async def results_csv(self, request: Any) -> Any:
        from starlette.responses import Response

        from cadenza.listen.analysis import ratings_csv, screen

        test = self._owner(request)
        rows = self.store.ratings(test.manifest.id)
        excluded = screen(rows)[1] if test.manifest.type == "mushra" else {}
        return Response(ratings_csv(rows, excluded), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{test.manifest.id}.csv"'})  # fmt: skip
