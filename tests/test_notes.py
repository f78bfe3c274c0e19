"""The NSynth-like note set: qualities measured from audio, splits by instrument, resume after an interruption, the
command and its errors (FluidSynth renders a few real notes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.test_cli import assert_user_error, run

from cadenza.audio import notes
from cadenza.audio.notes import build_notes, qualities, split_of

SR = 16000


def test_qualities_of_known_signals() -> None:
    t = np.arange(4 * SR) / SR
    f0 = 440.0
    struck = (np.sin(2 * np.pi * f0 * t) * np.exp(-t / 0.1) * (t < 3)).astype(np.float32)
    bowed = (np.sin(2 * np.pi * f0 * t) * np.minimum(1, t / 0.5) * (t < 3)).astype(np.float32)
    q = qualities(struck, SR, 69)
    assert q["percussive"] and q["attack_s"] < 0.03 and q["decay_db_1s"] < -20
    assert q["brightness"] == pytest.approx(1.0, abs=0.1) and not q["bright"]
    q = qualities(bowed, SR, 69)
    assert not q["percussive"] and 0.3 < q["attack_s"] < 0.5 and q["decay_db_1s"] > -1
    buzzy = np.sign(np.sin(2 * np.pi * 110 * t)).astype(np.float32) * 0.3 * (t < 3)
    assert qualities(buzzy, SR, 45)["bright"]


def test_build_splits_by_instrument_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "notes"
    calls: list[str] = []
    real = notes.render_job

    def interrupted(job: dict) -> list[dict]:  # type: ignore[type-arg]
        if calls:
            raise KeyboardInterrupt
        calls.append(job["key"])
        return real(job)

    monkeypatch.setattr(notes, "render_job", interrupted)
    kw = {"soundfonts": ["fluidr3", "timgm6mb"], "programs": [12, 19], "pitch_range": (60, 62), "progress": False}
    with pytest.raises(KeyboardInterrupt):
        build_notes(out, **kw)  # type: ignore[arg-type]
    assert not (out / "manifest.jsonl").exists() and len(list((out / ".jobs").glob("*.json"))) == 1
    first = next((out / ".jobs").glob("*.json")).read_text()
    done = [out / e["file"] for e in json.loads(first)]
    stamps = [p.stat().st_mtime_ns for p in done]
    rendered: list[str] = []
    monkeypatch.setattr(notes, "render_job", lambda job: rendered.append(job["key"]) or real(job))
    entries = build_notes(out, **kw)  # type: ignore[arg-type]
    assert len(rendered) == 3 and calls[0] not in rendered  # the finished job was not rendered again
    assert [p.stat().st_mtime_ns for p in done] == stamps
    assert len(entries) == 2 * 2 * 3 and (out / "manifest.jsonl").exists() and not (out / ".jobs").exists()
    for e in entries:
        assert e["split"] == split_of(e["instrument"]) and (out / e["file"]).is_file()
        assert e["family"] in ("chromatic percussion", "organ") and e["duration_s"] == 4.0
    marimba = [e for e in entries if e["program"] == 12]
    organ = [e for e in entries if e["program"] == 19]
    assert sum(e["qualities"]["percussive"] for e in marimba) > sum(e["qualities"]["percussive"] for e in organ)
    assert entries[0]["caption"].startswith(("a ", "an "))
    with pytest.raises(Exception, match="already holds a finished note set"):
        build_notes(out, **kw)  # type: ignore[arg-type]


def test_command_and_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "n"
    p = run("data", "notes", "--program", "flute", "--pitches", "70", "71", "--soundfont", "fluidr3",
            "--workers", "1", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "2 notes" in p.stdout
    bad = tmp_path / "bad.sf2"
    bad.write_text("not a soundfont")
    assert_user_error(run("data", "notes", "--soundfont", str(bad), "--program", "flute", "-o", str(tmp_path / "x")),
                      "bad.sf2", "not a SoundFont")  # fmt: skip
    assert_user_error(run("data", "notes", "--pitches", "80", "200", "-o", str(tmp_path / "y")), "MIDI pitch range")
    assert_user_error(run("data", "notes", "--program", "flute", "-o", str(out)), "finished note set")
