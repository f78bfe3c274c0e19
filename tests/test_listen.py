"""Listening tests: stimulus preparation (BS.1770 loudness, MUSHRA anchors), the store (write-once ratings,
SQLite), the analysis (post-screening, CIs, paired tests) and the rating API over HTTP, bad requests included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cadenza.core.audio import AudioClip
from cadenza.errors import InputError
from cadenza.io.audio import read_audio, write_audio
from cadenza.listen.analysis import analyze, holm, mean_ci, ratings_csv, screen
from cadenza.listen.design import (
    ANCHORS,
    HIDDEN_REFERENCE,
    create_test,
    integrated_loudness,
    read_manifest,
    read_spec,
)
from cadenza.listen.store import AlreadyRated, Rating, open_store
from cadenza.listen.web import screens

SR = 16000


def tone(seconds: float = 2.0, gain: float = 0.3, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise: broadband, so the low-pass anchors change it."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    x = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 30)) + 0.05 * rng.standard_normal(t.size)
    return (gain * x / np.abs(x).max()).astype(np.float32)


def make_spec(root: Path, kind: str = "mushra", trials: int = 2, seconds: float = 2.0) -> Path:
    """Stimulus folders and a TOML definition: a reference and two degraded versions per trial."""
    for i in range(trials):
        ref = tone(seconds, seed=i)
        write_audio(AudioClip(ref, SR), root / "ref" / f"clip{i}.wav")
        write_audio(AudioClip(0.1 * ref, SR), root / "quiet" / f"clip{i}.wav")  # only quieter: loudness matched away
        noisy = ref + 0.2 * np.random.default_rng(9 + i).standard_normal(ref.size).astype(np.float32)
        write_audio(AudioClip(np.clip(noisy, -1, 1), SR), root / "noisy" / f"clip{i}.wav")
    spec = root / "test.toml"
    reference = 'reference = "ref"\n' if kind == "mushra" else ""
    spec.write_text(f'name = "tiny"\ntype = "{kind}"\nsample_rate = {SR}\n{reference}'
                    '[conditions]\nquiet = "quiet"\nnoisy = "noisy"\n')  # fmt: skip
    return spec


def test_bs1770_loudness_of_a_sine() -> None:
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS; the filters hold at any sample rate
    for rate in (16000, 44100, 48000):
        t = np.arange(rate * 3) / rate
        assert integrated_loudness(np.sin(2 * np.pi * 997 * t)[None], rate) == pytest.approx(-3.01, abs=0.06)
    assert integrated_loudness(np.zeros((1, SR)), SR) == float("-inf")


def test_create_mushra_test(tmp_path: Path) -> None:
    m = create_test(make_spec(tmp_path), tmp_path / "t")
    assert m.type == "mushra" and m.trials == ["clip0", "clip1"]
    assert m.conditions == [HIDDEN_REFERENCE, *ANCHORS, "quiet", "noisy"]
    assert m.loudness["clip0"]["quiet"] == pytest.approx(m.loudness["clip0"]["open"] - 20, abs=0.1)
    folder = tmp_path / "t"
    matched = {c: read_audio(m.stimulus(folder, "clip0", c)) for c in ["open", *m.conditions]}
    loud = {c: integrated_loudness(clip.samples, clip.sample_rate) for c, clip in matched.items()}
    assert all(abs(v - -23.0) < 0.6 for v in loud.values()), loud  # matched (16-bit rounding aside)
    np.testing.assert_array_equal(matched["open"].samples, matched[HIDDEN_REFERENCE].samples)

    def band_energy(clip: AudioClip, lo: float) -> float:
        spec = np.abs(np.fft.rfft(clip.samples[0])) ** 2
        f = np.fft.rfftfreq(clip.samples.shape[-1], 1 / SR)
        return float(spec[f > lo].sum() / spec.sum())

    assert band_energy(matched["anchor35"], 3700) < 1e-3 < band_energy(matched["open"], 3700)
    assert band_energy(matched["anchor70"], 7200) < 1e-4
    assert read_manifest(folder).id == m.id and len(m.id) >= 12
    with pytest.raises(KeyError):
        m.stimulus(folder, "../../etc/passwd", "open")


def test_bad_test_definitions(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    bad = tmp_path / "bad.toml"
    for text, fragment in [
        ("type = 'mushra'\n[conditions]\na = 'quiet'\n", "needs reference"),
        ("type = 'opinion'\n[conditions]\na = 'quiet'\n", "is not one of"),
        ("type = 'ab'\n[conditions]\na = 'quiet'\n", "exactly 2"),
        ("type = 'mos'\n[conditions]\n'../x' = 'quiet'\n", "use letters"),
        ("type = 'mos'\n[conditions]\na = 'nowhere'\n", "no such folder"),
        ("reference = 'ref'\n[conditions]\n" + "".join(f"c{i} = 'quiet'\n" for i in range(10)), "over 12"),
        ("reference = 'ref'\n[conditions]\nreference = 'quiet'\n", "reserved"),
        ("type = [", "not valid TOML"),
    ]:
        bad.write_text(text)
        with pytest.raises(InputError, match=fragment):
            read_spec(bad)
    out = tmp_path / "t"
    (tmp_path / "quiet" / "clip0.wav").write_bytes(b"not audio")
    with pytest.raises(InputError, match="clip0.wav"):
        create_test(spec, out)
    assert not out.exists()  # nothing half-written


def test_store_is_write_once(tmp_path: Path) -> None:
    clock = iter(range(100))
    store = open_store(tmp_path / "r.sqlite", clock=lambda: float(next(clock)))
    token, seed = store.add_listener("t1")
    assert store.listener("t1", token) == seed and store.listener("t2", token) is None
    store.add_ratings("t1", token, "clip0", [Rating("a", 80, 10.0, 2), Rating("b", 20, 10.0, 1)])
    with pytest.raises(AlreadyRated):  # a replay changes nothing, not even the conditions it did not name
        store.add_ratings("t1", token, "clip0", [Rating("c", 50, 1.0, 1), Rating("a", 10, 1.0, 1)])
    rows = store.ratings("t1")
    assert [(r["condition"], r["score"]) for r in rows] == [("a", 80.0), ("b", 20.0)]
    assert store.rated("t1", token) == {("clip0", "a"), ("clip0", "b")}
    assert not store.is_closed("t1")
    store.close_test("t1")
    store.close_test("t1")
    assert store.is_closed("t1")


def test_analysis_screens_and_tests() -> None:
    rows = []
    rng = np.random.default_rng(0)
    for who in range(8):
        for trial in range(6):
            careless = who == 7  # rates the hidden reference low on half the trials: excluded
            ref = 40.0 if careless and trial % 2 else 100.0
            noisy = {"anchor35": 20, "good": 75, "bad": 45}
            for cond, score in [(HIDDEN_REFERENCE, ref), *((c, m + rng.normal(0, 5)) for c, m in noisy.items())]:
                rows.append({"listener": f"L{who}", "trial": f"t{trial}", "condition": cond, "score": float(score),
                             "seconds": 30.0, "plays": 2, "stored": 0.0})  # fmt: skip
    kept, excluded = screen(rows)
    assert list(excluded) == ["L7"] and len(kept) == 7
    from cadenza.listen.design import Manifest

    m = Manifest("x", "x", "mushra", [f"t{i}" for i in range(6)], [HIDDEN_REFERENCE, "anchor35", "good", "bad"], SR)
    res = analyze(m, rows)
    assert res.conditions["good"]["n"] == 42 and res.conditions["good"]["mean"] == pytest.approx(75, abs=2.5)
    assert res.conditions[HIDDEN_REFERENCE]["mean"] == 100.0
    pair = next(p for p in res.pairs if {p["a"], p["b"]} == {"good", "bad"})
    assert pair["p_holm"] < 1e-6 and pair["mean_diff"] == pytest.approx(30, abs=4)
    mean, half = mean_ci(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0 and half == pytest.approx(2.4841, abs=1e-3)  # t(0.975, 2) * 1 / sqrt(3)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    csv = ratings_csv(rows, excluded)
    assert csv.count("\n") == len(rows) + 1 and ",L7," not in csv and "L7,t0" in csv


def test_each_listener_gets_their_own_order(tmp_path: Path) -> None:
    m = create_test(make_spec(tmp_path, trials=3), tmp_path / "t")
    a, b = screens(m, 1), screens(m, 2)
    assert screens(m, 1) == a  # the seed is stored: the order can be replayed
    assert [s.trial for s in a] != [s.trial for s in b] or [s.conditions for s in a] != [s.conditions for s in b]
    assert all(sorted(s.conditions) == sorted(m.conditions) for s in a)


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from cadenza.studio.app import create_app

    create_test(make_spec(tmp_path / "in"), tmp_path / "ws" / "tests" / "mushra")
    create_test(make_spec(tmp_path / "in_ab", "ab"), tmp_path / "ws" / "tests" / "ab")
    app = create_app(tmp_path / "ws")
    with TestClient(app) as c:
        yield c, app


def _start(c, test_id: str) -> str:  # type: ignore[no-untyped-def]
    r = c.post(f"/listen/{test_id}/start", follow_redirects=False)
    assert r.status_code == 303
    return str(r.headers["location"])


def test_rating_api(client) -> None:  # type: ignore[no-untyped-def]
    c, app = client
    listen = app.state.studio.listen
    test = next(t for t in listen.tests.values() if t.manifest.type == "mushra")
    tid = test.manifest.id
    assert c.get(f"/listen/{tid}").status_code == 200
    page = _start(c, tid)
    html = c.get(page).text
    config = json.loads(html.split('<script id="config" type="application/json">')[1].split("</script>")[0])
    assert len(config["slots"]) == 5 and "anchor" not in html and "quiet" not in html  # blind
    audio = c.get(config["slots"][0]["url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert c.get(config["reference"]).status_code == 200
    body = {"screen": config["screen"], "scores": {s["slot"]: 50 for s in config["slots"]},
            "plays": {s["slot"]: 1 for s in config["slots"]}, "seconds": 12.5}  # fmt: skip
    r = c.post(config["rate_url"], json=body)
    assert r.status_code == 200 and r.json()["stored"] == 5
    assert len(listen.store.ratings(tid)) == 5  # stored before it was acknowledged
    replay = c.post(config["rate_url"], json=body)
    assert replay.status_code == 409 and len(listen.store.ratings(tid)) == 5
    # bad ratings: nothing written
    for bad in [{**body, "scores": {"A": 50}}, {**body, "scores": {**body["scores"], "A": 101}},
                {**body, "screen": 99}, {**body, "seconds": -1}, {"screen": "x"}]:  # fmt: skip
        assert c.post(config["rate_url"], json=bad).status_code == 400
    assert c.post(config["rate_url"], content=b"{" + b" " * 70000 + b"}").status_code == 413
    assert len(listen.store.ratings(tid)) == 5
    # the second trial, then the thank-you page
    html = c.get(page).text
    config2 = json.loads(html.split('<script id="config" type="application/json">')[1].split("</script>")[0])
    assert config2["screen"] != config["screen"]
    assert c.post(config2["rate_url"], json={**body, "screen": config2["screen"]}).status_code == 200
    assert "Thank you" in c.get(page).text
    # unknown tests, listeners, slots; ../ in every path-like field
    for url in [f"/listen/nope/{page.rsplit('/', 1)[1]}", f"{page}x", f"{page}/audio/0/Z", f"{page}/audio/0/..",
                f"{page}/audio/9/A", "/listen/..%2F..%2Fetc", f"{page}/audio/0/..%2F..%2Ftest.json",
                "/static/..%2F..%2Fapp.py", "/jobs/0123456789abcdef/..%2Fratings.sqlite"]:  # fmt: skip
        assert c.get(url).status_code in (403, 404), url
    # results need the owner key
    assert c.get(f"/listen/{tid}/results").status_code == 403
    assert c.get(f"/listen/{tid}/results?key=guess").status_code == 403
    r = c.get(f"/listen/{tid}/results?key={test.key}")
    assert r.status_code == 200 and "anchor35" in r.text
    png = c.get(f"/listen/{tid}/results.png?key={test.key}")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert c.get(f"/listen/{tid}/results.png").status_code == 403
    csv = c.get(f"/listen/{tid}/results.csv?key={test.key}")
    assert csv.status_code == 200 and csv.text.count("\n") == 11
    # a closed test takes nothing
    listen.store.close_test(tid)
    assert c.get(f"/listen/{tid}").status_code == 410
    assert c.post(f"/listen/{tid}/start", follow_redirects=False).status_code == 410


def test_ab_api(client) -> None:  # type: ignore[no-untyped-def]
    c, app = client
    listen = app.state.studio.listen
    test = next(t for t in listen.tests.values() if t.manifest.type == "ab")
    page = _start(c, test.manifest.id)
    html = c.get(page).text
    config = json.loads(html.split('<script id="config" type="application/json">')[1].split("</script>")[0])
    assert [s["slot"] for s in config["slots"]] == ["A", "B"] and config["reference"] is None
    both = {"screen": config["screen"], "scores": {"A": 1, "B": 1}}
    assert c.post(config["rate_url"], json=both).status_code == 400
    assert c.post(config["rate_url"], json={**both, "scores": {"A": 1, "B": 0}}).status_code == 200


def test_listen_cli(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    run = [sys.executable, "-m", "cadenza", "listen"]
    p = subprocess.run([*run, "create", str(spec), "-o", str(tmp_path / "t")], capture_output=True, text=True)
    assert p.returncode == 0 and "2 trial(s) x 5 condition(s)" in p.stdout, p.stderr
    p = subprocess.run([*run, "results", str(tmp_path / "t"), "-o", str(tmp_path / "r")], capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "no rating" in p.stderr
    store = open_store(tmp_path / "t" / "ratings.sqlite")
    m = read_manifest(tmp_path / "t")
    for _ in range(3):
        token, _ = store.add_listener(m.id)
        for trial in m.trials:
            store.add_ratings(m.id, token, trial, [Rating(c, 100 if c == HIDDEN_REFERENCE else 30, 9.0, 1)
                                                   for c in m.conditions])  # fmt: skip
    p = subprocess.run([*run, "results", str(tmp_path / "t"), "-o", str(tmp_path / "r")], capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "3 kept" in p.stdout and (tmp_path / "r" / "results.png").stat().st_size > 5000
    assert json.loads((tmp_path / "r" / "results.json").read_text())["conditions"]["reference"]["mean"] == 100
    p = subprocess.run([*run, "create", str(spec), "-o", str(tmp_path / "t")], capture_output=True, text=True)
    assert p.returncode == 2 and "not empty" in p.stderr


def _load(tmp_path: Path, store: str) -> None:
    """50 listeners at once against a served test: every rating stored once, every replay refused."""
    from cadenza.listen.loadtest import serve, simulate_listeners
    from cadenza.studio.app import create_app

    create_test(make_spec(tmp_path / "in"), tmp_path / "ws" / "tests" / "t")
    app = create_app(tmp_path / "ws", store=store)
    listen = app.state.studio.listen
    test = next(iter(listen.tests.values())).manifest
    with serve(app) as base:
        result = simulate_listeners(base, test.id, 50)
    per_listener = len(test.trials) * len(test.conditions)
    assert result["errors"] == [] and result["refused_replays"] == 50
    rows = listen.store.ratings(test.id)
    assert result["stored"] == len(rows) == 50 * per_listener  # none lost
    assert len({(r["listener"], r["trial"], r["condition"]) for r in rows}) == len(rows)  # none duplicated
    assert listen.store.listeners(test.id) == 50


def test_fifty_listeners_on_sqlite(tmp_path: Path) -> None:
    _load(tmp_path, str(tmp_path / "ratings.sqlite"))


@pytest.mark.skipif(__import__("cadenza.listen.loadtest").listen.loadtest.postgres_bin() is None,
                    reason="needs Debian's postgresql (make system installs it)")  # fmt: skip
def test_fifty_listeners_on_postgresql(tmp_path: Path) -> None:
    from cadenza.listen.loadtest import throwaway_postgres

    with throwaway_postgres() as url:
        _load(tmp_path, url)
