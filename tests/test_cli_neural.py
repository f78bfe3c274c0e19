"""The neural models from the command line: shipped checkpoints, generation, evaluation, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cadenza import io
from cadenza.core.score import Note, Part, Score
from cadenza.symbolic import transformer
from cadenza.train.checkpoint import save_model
from test_cli import assert_user_error, run


def _tiny_mt(path: Path) -> Path:
    torch.manual_seed(0)
    cfg = transformer.JSBTrainConfig(block_size=16, n_layer=1, n_head=2, n_embd=16)
    model = transformer.GPT(transformer.model_config(cfg))
    save_model(path, model, {"model": model.cfg.__dict__, "jsb": cfg.__dict__}, kind=transformer.KIND, card="# t\n")
    return path


def test_generate_from_the_shipped_models(tmp_path: Path, bach_files) -> None:  # type: ignore[no-untyped-def]
    p = run("lstm", "generate", "--seed", "1", "-o", str(tmp_path / "m"))
    assert p.returncode == 0, p.stderr
    assert io.read_score(tmp_path / "m.mid").n_notes > 0 and (tmp_path / "m.wav").stat().st_size > 0
    p = run("music-transformer", "generate", "--steps", "32", "-o", str(tmp_path / "c"))
    assert p.returncode == 0, p.stderr
    assert len(io.read_score(tmp_path / "c.mid").parts) == 4
    p = run("bachbot", "generate", "--frames", "32", "-o", str(tmp_path / "b"))
    assert p.returncode == 0, p.stderr
    melody = tmp_path / "melody.mid"
    io.write(io.read_score(bach_files[0]).replace(parts=(io.read_score(bach_files[0]).parts[0],)), melody)
    p = run("harmonize", str(melody), "--method", "chorale-lstm", "-o", str(tmp_path / "h"))
    assert p.returncode == 0, p.stderr
    assert len(io.read_score(tmp_path / "h.mid").parts) == 4


def test_eval_jsb_of_a_model_folder(tmp_path: Path) -> None:
    p = run("music-transformer", "eval", "jsb", "--model", str(_tiny_mt(tmp_path / "mt")), "--json")
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result["valid_tokens"] == 73632 and result["test_tokens"] == 75600
    assert 3.0 < result["valid_nll"] < 6.0  # an untrained model is near uniform over 130 tokens


def test_bad_models_and_primers(tmp_path: Path) -> None:
    mt = _tiny_mt(tmp_path / "mt")
    assert_user_error(run("lstm", "generate", "--model", str(mt), "-o", str(tmp_path / "x")), "not a 'lstm-melody'")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((mt / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not weights")
    assert_user_error(run("music-transformer", "eval", "jsb", "--model", str(broken)), "corrupt weights")
    assert_user_error(run("music-transformer", "eval", "--model", str(tmp_path / "nowhere")), "no such model folder")
    # a primer longer than the 16-token context
    long_primer = tmp_path / "long.mid"
    parts = tuple(Part(tuple(Note(60 - 5 * v, float(i), 1.0) for i in range(8))) for v in range(4))
    io.write(Score(parts), long_primer)
    p = run(
        "music-transformer", "generate", "--model", str(mt), "--primer", str(long_primer), "-o", str(tmp_path / "y")
    )
    assert_user_error(p, "exceeds the context")
    assert not (tmp_path / "y.mid").exists()
    # a two-part primer for a four-voice model; a chordal primer for a melody model
    duet = tmp_path / "duet.mid"
    io.write(Score(parts[:2]), duet)
    assert_user_error(run("music-transformer", "generate", "--model", str(mt), "--primer", str(duet), "-o",
                          str(tmp_path / "z")), "2 parts")  # fmt: skip
    chords = tmp_path / "chords.mid"
    io.write(Score((Part((Note(60, 0, 1), Note(64, 0, 1))),)), chords)
    assert_user_error(run("lstm", "generate", "--primer", str(chords), "-o", str(tmp_path / "w")), "overlapping")


def test_remi_transformer_from_the_command_line(tmp_path: Path, bach_files) -> None:  # type: ignore[no-untyped-def]
    p = run("remi-transformer", "generate", "--style", "essen", "--bars", "4", "--seed", "2", "-o", str(tmp_path / "t"))
    assert p.returncode == 0, p.stderr
    tune = io.read_score(tmp_path / "t.mid")
    assert len(tune.parts) == 1 and tune.n_notes > 0
    primer = tmp_path / "primer.mid"
    io.write(io.read_score(bach_files[0]), primer)
    p = run("remi-transformer", "generate", "--primer", str(primer), "--primer-bars", "2", "--bars", "4", "-o",
            str(tmp_path / "c"))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "bach:" in p.stdout  # a four-part primer picks the chorale style
    assert_user_error(run("remi-transformer", "generate", "--style", "jazz", "-o", str(tmp_path / "x")), "--style")
    low = tmp_path / "low.mid"
    io.write(Score((Part((Note(12, 0, 1), Note(14, 1, 1))),)), low)
    assert_user_error(run("remi-transformer", "generate", "--primer", str(low), "-o", str(tmp_path / "y")),
                      "cannot be a REMI primer")  # fmt: skip
    assert not (tmp_path / "y.mid").exists()
