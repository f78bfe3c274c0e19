"""The studio: settings checked, jobs run in the worker process (progress, cancel, a fresh worker after), bad
uploads refused with nothing written, and the whole app end to end in a real headless browser (Debian's
chromium driven by Playwright): two techniques, playback, a download, a MUSHRA test taken as a listener and its
results page, with a screenshot of each page checked."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from cadenza.errors import CadenzaError, InputError
from cadenza.listen.design import create_test
from cadenza.studio.jobs import Jobs
from cadenza.studio.techniques import TECHNIQUES, Field, technique
from test_listen import make_spec

CHROMIUM = shutil.which("chromium")


def wait_for(jobs: Jobs, job_id: str, states: tuple[str, ...], limit_s: float = 300.0) -> None:
    """Poll until the job reaches one of `states` (a limit against a hang, not a speed target)."""
    deadline = time.monotonic() + limit_s
    while jobs.get(job_id).state not in states:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, jobs.get(job_id)
        time.sleep(0.1)


def test_fields_check_settings() -> None:
    f = Field("bars", "bars", "int", 8, 1, 64)
    assert f.parse("12") == 12 and f.parse("") == 8
    for bad, fragment in [("x", "not an integer"), ("0", "outside 1..64"), ("1e9", "not an integer")]:
        with pytest.raises(InputError, match=fragment):
            f.parse(bad)
    with pytest.raises(InputError, match="not one of"):
        technique("harmonize").parse({"method": "../../etc"})
    with pytest.raises(CadenzaError, match="unknown technique"):
        technique("nope")
    names = [t.name for t in TECHNIQUES]
    assert len(names) == len(set(names)) >= 18 and {t.group for t in TECHNIQUES} == {"symbolic", "audio"}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    j = Jobs(tmp_path_factory.mktemp("jobs"))
    yield j
    j.close()


def test_jobs_run_report_and_cancel(jobs: Jobs) -> None:
    job = jobs.submit("markov", technique("markov").parse({"bars": "4"}), None)
    wait_for(jobs, job.id, ("done", "failed"))
    done = jobs.get(job.id)
    assert done.state == "done", done.error  # type: ignore[union-attr]
    assert {"out.mid", "out.xml", "out.abc", "out.wav"} <= set(done.result["downloads"])  # type: ignore[union-attr]
    assert (job.folder / "out.png").stat().st_size > 5000
    # a long job, cancelled while it runs: the worker is ended and a fresh one takes the next job
    slow = jobs.submit("text2music", technique("text2music").parse({"seconds": "30"}), None)
    after = jobs.submit("markov", technique("markov").parse({"bars": "2"}), None)
    wait_for(jobs, slow.id, ("running",))
    assert jobs.cancel(slow.id).state == "cancelled"  # type: ignore[union-attr]
    wait_for(jobs, after.id, ("done", "failed"))
    assert jobs.get(after.id).state == "done" and jobs.get(slow.id).state == "cancelled"  # type: ignore[union-attr]
    # a user's mistake fails its job with the one-line message, and the worker goes on
    bad = jobs.submit("improvise", technique("improvise").parse({"chords": "C H7"}), None)
    wait_for(jobs, bad.id, ("done", "failed"))
    assert jobs.get(bad.id).state == "failed" and "H7" in jobs.get(bad.id).error  # type: ignore[union-attr]


def test_uploads_reach_the_techniques(jobs: Jobs, tmp_path: Path) -> None:
    """A recording for CLAP (ranked descriptions) and no melody for BachBot's harmonization (a held-out tune)."""
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio
    from test_listen import tone

    wav = write_audio(AudioClip(tone(3.0), 16000), tmp_path / "tone.wav")
    clap = jobs.submit("clap", technique("clap").parse({"prompts": "a violin melody; rain; applause"}), wav)
    chorale = jobs.submit("harmonize", technique("harmonize").parse({"method": "chorale-lstm"}), None)
    for job in (clap, chorale):
        wait_for(jobs, job.id, ("done", "failed"))
        assert jobs.get(job.id).state == "done", jobs.get(job.id).error  # type: ignore[union-attr]
    lines = jobs.get(clap.id).result["lines"]  # type: ignore[union-attr]
    scores = [float(line.split()[0]) for line in lines[1:]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and all(-1 <= x <= 1 for x in scores)
    assert "out.mid" in jobs.get(chorale.id).result["downloads"]  # type: ignore[union-attr]


def test_progress_comes_from_the_library_bars(jobs: Jobs) -> None:
    job = jobs.submit("text2music", technique("text2music").parse({"seconds": "4"}), None)
    seen = set()
    deadline = time.monotonic() + 300
    while jobs.get(job.id).state in ("queued", "running"):  # type: ignore[union-attr]
        seen.add(round(jobs.get(job.id).progress, 2))  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert jobs.get(job.id).state == "done"  # type: ignore[union-attr]
    assert any(0 < p < 1 for p in seen), seen


def test_bad_requests_write_nothing(tmp_path: Path, jobs: Jobs) -> None:
    from starlette.testclient import TestClient

    from cadenza.studio.app import MAX_UPLOAD, create_app

    app = create_app(tmp_path / "ws", jobs=jobs)
    uploads = tmp_path / "ws" / "uploads"
    with TestClient(app) as c:
        assert c.get("/").status_code == 200 and c.get("/t/markov").status_code == 200
        assert c.get("/t/nope").status_code == 404
        wav = ("x.wav", b"RIFF" + b"\0" * 100, "audio/wav")
        cases = [
            ({"technique": "nope"}, None, 404),
            ({"technique": "markov", "bars": "0"}, None, 400),
            ({"technique": "markov"}, {"file": wav}, 400),  # takes no upload
            ({"technique": "ddsp"}, None, 400),  # needs one
            ({"technique": "ddsp"}, {"file": ("x.exe", b"MZ", "application/octet-stream")}, 415),
            ({"technique": "ddsp"}, {"file": ("../../x.wav", b"", "audio/wav")}, 400),
            ({"technique": "ddsp"}, {"file": ("big.wav", b"\0" * (MAX_UPLOAD + 1), "audio/wav")}, 413),
        ]
        for data, files, status in cases:
            r = c.post("/api/jobs", data=data, files=files)
            assert r.status_code == status, (data, r.text)
            assert "error" in r.json()
        assert not any(uploads.iterdir()) and not jobs.jobs.keys() - set(_ids(jobs))
        for url in ["/api/jobs/../../etc/passwd", "/api/jobs/0123456789abcdef", "/jobs/zz/out.wav",
                    "/jobs/0123456789abcdef/..%2F..%2Fratings.sqlite", "/static/../app.py"]:  # fmt: skip
            assert c.get(url).status_code == 404, url
        r = c.post("/api/jobs", data={"technique": "markov", "bars": "2"})
        assert r.status_code == 202
        job_id = r.json()["id"]
        wait_for(jobs, job_id, ("done", "failed"))
        assert c.get(f"/jobs/{job_id}/out.mid").status_code == 200
        assert c.get(f"/jobs/{job_id}/job.json").status_code == 404  # only the files the job lists
        assert c.get("/").headers["x-frame-options"] == "DENY"


def _ids(jobs: Jobs) -> list[str]:
    return list(jobs.jobs)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, jobs: Jobs):  # type: ignore[no-untyped-def]
    """The studio served by uvicorn on a loopback port, with one MUSHRA test in its workspace."""
    from cadenza.listen.loadtest import serve
    from cadenza.studio.app import create_app

    root = tmp_path_factory.mktemp("studio")
    create_test(make_spec(root / "in"), root / "ws" / "tests" / "codecs")
    app = create_app(root / "ws", jobs=jobs)
    with serve(app) as base:
        yield base, app, root


def _screenshot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Take a screenshot and check it shows a page: a real PNG, not one flat colour."""
    from PIL import Image

    page.screenshot(path=str(path), full_page=True)
    image = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert image.shape[0] >= 300 and image.shape[1] >= 800
    assert image.std() > 5, f"{path.name} is blank"


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make system installs it)")
def test_in_a_browser(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    base, app, root = live
    shots = tmp_path / "shots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True,
                                bypass_csp=True)  # the page forbids eval; Playwright waits by evaluating  # fmt: skip
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        assert all(page.locator(f"#open-{t.name}").count() == 1 for t in TECHNIQUES)
        assert page.locator("#open-attribute").count() == 1
        _screenshot(page, shots / "index.png")
        # two techniques: a score (Markov) and audio (text to music)
        for name, settings in [("markov", {"#f-bars": "4"}), ("text2music", {"#f-seconds": "2"})]:
            page.goto(f"{base}/t/{name}")
            for selector, value in settings.items():
                page.fill(selector, value)
            page.click("#generate")
            page.wait_for_selector("#result:not([hidden])", timeout=300_000)
            assert page.evaluate("document.getElementById('picture').naturalWidth") > 300
            # play: the audio element loads and its clock moves
            page.evaluate("document.getElementById('player').play()")
            page.wait_for_function("document.getElementById('player').currentTime > 0.2", timeout=30_000)
            _screenshot(page, shots / f"{name}.png")
        with page.expect_download() as download:
            page.click("#download-wav")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.suffix == ".wav" and saved.stat().st_size > 10_000
        # a MUSHRA test, as a listener: every version played, sliders set, both trials submitted
        listen = app.state.studio.listen
        test = next(iter(listen.tests.values()))
        page.goto(f"{base}/listen/{test.manifest.id}")
        page.click("#start")
        for trial in range(len(test.manifest.trials)):
            page.wait_for_selector("#status:text('ready')")
            assert page.is_disabled("#submit")
            page.click("#play-REF")
            for k, slot in enumerate("ABCDE"):
                page.click(f"#play-{slot}")
                page.fill(f"#score-{slot}", str(20 * k))
            page.wait_for_function("document.querySelector('#status').textContent.startsWith('playing')")
            if trial == 0:
                page.fill("#loop-from", "25")  # loop a region: the label says it, playback goes on
                page.wait_for_function("document.querySelector('#loop-label').textContent.endsWith(' s')")
                assert page.text_content("#status").startswith("playing")  # type: ignore[union-attr]
                _screenshot(page, shots / "mushra.png")
            page.click("#submit")
            page.wait_for_url(lambda url: True)
        page.wait_for_selector("#done")
        rows = listen.store.ratings(test.manifest.id)
        assert len(rows) == len(test.manifest.trials) * len(test.manifest.conditions)
        assert sorted({r["score"] for r in rows}) == [0.0, 20.0, 40.0, 60.0, 80.0]
        assert all(r["plays"] >= 1 and r["seconds"] > 0 for r in rows)
        page.goto(f"{base}/listen/{test.manifest.id}/results?key={test.key}")
        assert page.locator("#conditions tr").count() == len(test.manifest.conditions) + 1
        _screenshot(page, shots / "results.png")
        assert not errors, errors
        browser.close()
    for name in ("index", "markov", "text2music", "mushra", "results"):
        assert (shots / f"{name}.png").stat().st_size > 10_000


def test_a_test_from_two_techniques(tmp_path: Path) -> None:
    """The studio's own A/B test: the i-th output of one technique against the i-th of another."""
    from starlette.testclient import TestClient

    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio
    from cadenza.studio.app import create_app
    from cadenza.studio.jobs import Job
    from test_listen import tone

    class FinishedJobs:
        def __init__(self) -> None:
            self.jobs: dict[str, Job] = {}

        def finished(self) -> list[Job]:
            return sorted(self.jobs.values(), key=lambda j: j.created)

        def close(self) -> None:
            pass

    fake = FinishedJobs()
    for k, name in enumerate(["markov", "markov", "lstm", "lstm", "lstm"]):
        folder = tmp_path / "jobs" / f"{k:016x}"
        write_audio(AudioClip(tone(1.0, seed=k), 16000), folder / "out.wav")
        fake.jobs[f"{k:016x}"] = Job(f"{k:016x}", name, {}, None, folder, state="done", created=float(k),
                                     result={"audio": "out.wav"})  # fmt: skip
    with TestClient(create_app(tmp_path / "ws", jobs=fake)) as c:  # type: ignore[arg-type]
        assert "markov (2)" in c.get("/tests/new").text
        assert c.post("/api/tests", data={"type": "ab", "a": "markov", "b": "markov"}).status_code == 400
        assert c.post("/api/tests", data={"type": "mushra", "a": "markov", "b": "lstm"}).status_code == 400
        r = c.post("/api/tests", data={"type": "ab", "a": "markov", "b": "lstm", "name": "melodies"})
        assert r.status_code == 200 and r.json()["trials"] == 2
        assert c.get(r.json()["listen"]).status_code == 200
        assert c.get(r.json()["results"]).status_code == 200
