"""The CLI as a user meets it: real commands, real output, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cadenza import io


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cadenza", *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ), timeout=300)  # fmt: skip


def assert_user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("parsing:")]  # progress
    assert len(lines) == 1 and lines[0].startswith("cadenza: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0]


def test_convert_and_analyze(bach_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "c.mid"
    p = run("convert", str(bach_files[0]), str(out))
    assert p.returncode == 0, p.stderr
    assert out.exists()
    p = run("analyze", str(out), "--json", "--plot", str(tmp_path / "roll.png"))
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result["notes"] > 100 and len(result["metrics"]) == 14
    assert (tmp_path / "roll.png").stat().st_size > 1000


def test_convert_tune_book_to_abc(m21: Path, tmp_path: Path) -> None:
    p = run("convert", str(m21 / "essenFolksong" / "erk5.abc"), str(tmp_path / "book.abc"))
    assert p.returncode == 0 and "27 tunes" in p.stdout
    assert len(io.read(tmp_path / "book.abc")) == 27


def test_corpus_list_and_stats_json() -> None:
    p = run("corpus", "list")
    assert p.returncode == 0 and "essen" in p.stdout and "jsb" in p.stdout
    p = run("corpus", "stats", "jsb", "--json")
    stats = json.loads(p.stdout)
    assert stats["pieces"] == 382 and stats["notes"] > 50000
    assert stats["splits"] == {"train": 229, "valid": 76, "test": 77}


def test_corpus_stats_folder_with_junk_and_export(tmp_path: Path, bach_scores) -> None:  # type: ignore[no-untyped-def]
    io.write(bach_scores[0], tmp_path / "a.mid")
    (tmp_path / "bad.mid").write_bytes(b"nope")
    p = run("corpus", "stats", str(tmp_path), "--plot", str(tmp_path / "pcs.png"))
    assert p.returncode == 0, p.stderr
    assert "pieces      1" in p.stdout and "skipped     1 unreadable" in p.stdout and "bad.mid" in p.stdout
    assert (tmp_path / "pcs.png").exists()
    p = run("corpus", "export", "jsb", "--piece", "3", "-o", str(tmp_path / "out" / "jsb3.xml"))
    assert p.returncode == 0, p.stderr
    assert len(io.read_score(tmp_path / "out" / "jsb3.xml").parts) == 4


def test_render(bach_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = run("render", str(bach_files[1]), "-o", str(tmp_path / "x.wav"), "--sample-rate", "16000", "--program", "organ")
    assert p.returncode == 0, p.stderr
    import soundfile as sf

    assert sf.info(str(tmp_path / "x.wav")).samplerate == 16000


def test_compare(tmp_path: Path, essen_scores) -> None:  # type: ignore[no-untyped-def]
    for i, s in enumerate(essen_scores[:6]):
        io.write(s, tmp_path / f"{i}.mid")
    p = run("compare", str(tmp_path), "--corpus", "jsb", "--json")
    assert p.returncode == 0, p.stderr
    assert 0 <= json.loads(p.stdout)["mean"]["overlap"] <= 1


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["corpus", "stats", "bachh"], ["unknown corpus 'bachh'"]),
        (["render", "{tmp}/missing.mid", "-o", "{tmp}/o.wav"], ["missing.mid", "no such file"]),
        (["render", "{tmp}/junk.mid", "-o", "{tmp}/o.wav"], ["junk.mid", "not a readable MIDI file"]),
        (["analyze", "{tmp}/empty.mid"], ["empty.mid", "empty file"]),
        (["convert", "{tmp}/broken.abc", "{tmp}/o.mid"], ["broken.abc"]),
        (["render", "{tmp}/good.mid", "-o", "{tmp}/o.wav", "--program", "theremin"], ["unknown GM program"]),
        (["render", "{tmp}/good.mid", "-o", "{tmp}/o.wav", "--soundfont", "{tmp}/none.sf2"], ["SoundFont not found"]),
        (["convert", "{tmp}/good.mid", "{tmp}/o.pdf"], ["cannot write .pdf"]),
        (["corpus", "export", "jsb", "--piece", "999", "-o", "{tmp}/o.mid"], ["--piece must be"]),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    (tmp_path / "junk.mid").write_bytes(b"MThd garbage")
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "broken.abc").write_text("X:1\nT:broken\nM:4/4\nK:C\n|]\n")
    from cadenza.core import make_score

    io.write(make_score([[(60, 0, 1)]]), tmp_path / "good.mid")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = run(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert_user_error(proc, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written


def test_markov_train_generate_evaluate(tmp_path: Path, m21: Path) -> None:
    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / "erk5.abc").write_bytes((m21 / "essenFolksong" / "erk5.abc").read_bytes())
    model = tmp_path / "m"
    p = run("markov", "train", "--corpus", str(folder), "--order", "3", "-o", str(model))
    assert p.returncode == 0, p.stderr
    p = run("markov", "generate", "--model", str(model), "-o", str(tmp_path / "mel"), "--key", "G", "--bars", "4")
    assert p.returncode == 0, p.stderr
    for suffix in (".mid", ".xml", ".wav"):
        assert (tmp_path / f"mel{suffix}").stat().st_size > 0
    s = io.read_score(tmp_path / "mel.mid")
    assert s.parts[0].notes[-1].pitch % 12 == 7
    assert "order 3" in (model / "card.md").read_text()
    p = run("markov", "eval", "--corpus", str(folder), "--folds", "3", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert set(r) >= {"model", "course"} and r["model"]["bits_per_note"] > 0
    bad = run("markov", "generate", "--model", str(model), "-o", str(tmp_path / "x"), "--range", "70..60")
    assert_user_error(bad, "--range")
    bad = run("markov", "generate", "--model", str(model), "-o", str(tmp_path / "x"), "--meter", "7/5")
    assert_user_error(bad, "unsupported meter")
    bad = run("markov", "generate", "--model", str(tmp_path / "none"), "-o", str(tmp_path / "x"))
    assert_user_error(bad, "none", "no such model folder")
    assert not (tmp_path / "x.mid").exists()


def test_harmonize_cli(tmp_path: Path, m21: Path) -> None:
    tune = m21 / "essenFolksong" / "erk5.abc"
    p = run("harmonize", str(tune), "--piece", "2", "-o", str(tmp_path / "h"), "--chords-per-bar", "1")
    assert p.returncode == 0, p.stderr
    assert "chords:" in p.stdout
    assert len(io.read_score(tmp_path / "h.mid").parts) == 4
    p = run("harmonize", str(tune), "--piece", "2", "-o", str(tmp_path / "g"), "--plot", str(tmp_path / "ga.png"),
            "--generations", "50")  # fmt: skip
    assert p.returncode == 0 and "GA: best fitness" in p.stdout and (tmp_path / "ga.png").exists()
    p = run("harmonize", str(tune), "--piece", "2", "-o", str(tmp_path / "c"), "--method", "course", "--seed", "1")
    assert p.returncode == 0 and "key C major" in p.stdout
    assert_user_error(run("harmonize", str(tune), "-o", str(tmp_path / "x"), "--method", "magic"), "--method")
    assert_user_error(run("harmonize", str(tune), "-o", str(tmp_path / "x"), "--chords-per-bar", "0"), "at least 1")
    assert_user_error(run("harmonize", str(tmp_path / "none.mid"), "-o", str(tmp_path / "x")), "none.mid")
    assert not (tmp_path / "x.mid").exists()


def test_compose_cli(tmp_path: Path, bach_scores) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "chorales"
    for i, s in enumerate(bach_scores):
        io.write(s, folder / f"{i}.xml")
    p = run("compose", "--corpus", str(folder), "-o", str(tmp_path / "piece"), "--key", "A minor", "--seed", "1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("form ")
    assert [x.name for x in io.read_score(tmp_path / "piece.mid").parts][:3] == ["melody", "chords", "bass"]
    tunes = tmp_path / "tunes"
    io.write(bach_scores[0].replace(parts=bach_scores[0].parts[:1]), tunes / "one.mid")
    assert_user_error(run("compose", "--corpus", str(tunes), "-o", str(tmp_path / "x")), "no chord data")
    assert not (tmp_path / "x.mid").exists()


def test_improvise_cli(tmp_path: Path) -> None:
    p = run(
        "improvise", "--chords", "Dm7 G7 Cmaj7 A7", "--bars", "8", "-o", str(tmp_path / "solo"), "--critic", "rules"
    )
    assert p.returncode == 0, p.stderr
    assert [x.name for x in io.read_score(tmp_path / "solo.mid").parts] == ["solo", "piano", "bass"]
    ratings = "g\nb\n\ng\n"
    rated = subprocess.run(
        [sys.executable, "-m", "cadenza", "improvise", "--chords", "Dm7 G7", "-o", str(tmp_path / "jam"),
         "--interactive", "--rounds", "1", "--critic", "rules", "--allow-piped-ratings"],
        input=ratings, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rated.returncode == 0, rated.stderr
    assert "rated 4 phrases in 1 rounds" in rated.stdout
    assert_user_error(run("improvise", "--chords", "Dm7 Q7", "-o", str(tmp_path / "x")), "Q7")
    assert not (tmp_path / "x.mid").exists()


def test_an_interrupt_inside_string_code_still_exits_130(tmp_path: Path) -> None:
    """A Ctrl-C or kill that lands inside code run from a string (as dataclasses and namedtuple make their methods)
    must still end `python -m ...` with exit 130, not a SIGINT death (CPython keeps a flag for that case)."""
    (tmp_path / "interrupted_cli.py").write_text(
        "import argparse, sys\n"
        "import cadenza.cli as cli\n"
        "def parser():\n"
        "    p = argparse.ArgumentParser()\n"
        "    p.set_defaults(func=lambda a: exec(\"raise KeyboardInterrupt('terminated')\"))\n"
        "    return p\n"
        "cli.build_parser = parser\n"
        "sys.exit(cli.main([]))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "interrupted_cli"], capture_output=True, text=True, env=env)
    assert proc.returncode == 130, proc.stderr
    assert "cadenza: interrupted: terminated" in proc.stderr


def test_a_killed_command_leaves_no_half_built_folder(tmp_path: Path) -> None:
    """SIGTERM unwinds as Ctrl-C does: the dataset being built under a hidden name is removed, nothing is left."""
    import signal
    import time

    out = tmp_path / "set"
    cmd = [sys.executable, "-m", "cadenza", "data", "textures", "--kind", "wind", "rain", "--clips", "400",
           "--duration", "6", "-o", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    deadline = time.monotonic() + 600  # waits for the folder to appear, however slow the machine
    while not list(tmp_path.glob(".set.*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 130), err  # 0 only if it finished before the signal came
    assert not list(tmp_path.glob(".set.*")), err
    if proc.returncode == 130:
        assert not out.exists() and "interrupted" in err and "Traceback" not in err
