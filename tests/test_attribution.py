"""Reverse engineering: content features of a score, the attribution classifier trained on a small folder of
sources, its save/load, the shipped model on a real held-out piece, the CLI and the studio's page API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cadenza import io
from cadenza.evaluate.attribution import FEATURES, Attribution, score_features, train_attribution


def test_features_see_notes_only(essen_scores) -> None:  # type: ignore[no-untyped-def]
    tune = essen_scores[0]
    x = score_features(tune)
    assert x.shape == (len(FEATURES),) and np.isfinite(x).all()
    # no metadata: title and tempo change nothing; a transposition moves the register features only
    np.testing.assert_array_equal(x, score_features(tune.replace(title="BachBot output", tempo_bpm=200.0)))
    moved = score_features(tune.transpose(5)) != x
    assert {FEATURES[i] for i in np.flatnonzero(moved)} <= {"pitch_mean", "top_pitch_mean", "pitch_in_scale_rate",
                                                            "scale_consistency"}  # fmt: skip


def _tiny_sources(root: Path, essen_scores, bach_scores) -> None:  # type: ignore[no-untyped-def]
    from cadenza.symbolic.markov import MarkovMelody

    model = MarkovMelody.from_pretrained()
    for i in range(8):
        io.write(model.generate(bars=8, rng=np.random.default_rng(i)), root / "markov" / f"{i:03d}.mid")
        io.write(essen_scores[i], root / "real@essen" / f"{i:03d}.mid")
        io.write(bach_scores[i % len(bach_scores)].transpose(i % 3), root / "real@bach" / f"{i:03d}.mid")


def test_train_save_load(tmp_path: Path, essen_scores, bach_scores) -> None:  # type: ignore[no-untyped-def]
    _tiny_sources(tmp_path / "data", essen_scores, bach_scores)
    model, figures = train_attribution(tmp_path / "data", test_share=0.25, progress=False)
    assert figures["classes"] == 3 and figures["test_pieces"] == 6 and figures["train_pieces"] == 18
    assert figures["chance"] == pytest.approx(1 / 3, abs=1e-3)
    assert sum(map(sum, figures["confusion"]["rows_true_columns_predicted"])) == 6
    assert figures["accuracy"] >= 0.5  # four-voice chorales vs one-line tunes: not a hard case
    model.save_pretrained(tmp_path / "m", figures=figures)
    again = Attribution.from_pretrained(tmp_path / "m")
    x = np.stack([score_features(bach_scores[9]), score_features(essen_scores[20])])
    np.testing.assert_allclose(again.probabilities(x), model.probabilities(x), atol=1e-6)
    result = again.attribute(bach_scores[9])
    assert result["guesses"][0]["label"] == "real@bach" and result["guesses"][0]["setting"] == "bach"
    assert sum(g["probability"] for g in result["guesses"]) == pytest.approx(1.0, abs=1e-5)
    assert len(result["features"]) == len(FEATURES) and "real@bach" in result["features"][0]


def test_shipped_model_and_cli(tmp_path: Path) -> None:
    from cadenza.demo.page import held_out_chorale

    model = Attribution.from_pretrained()
    assert model.figures["accuracy"] > 3 * model.figures["chance"]  # measured on held-out pieces when trained
    chorale = tmp_path / "chorale.mid"
    io.write(held_out_chorale(3), chorale)
    p = subprocess.run([sys.executable, "-m", "cadenza", "attribute", str(chorale), "--json"], capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 0, p.stderr
    guesses = json.loads(p.stdout)["guesses"]
    assert len(guesses) == 5 and guesses[0]["probability"] >= guesses[-1]["probability"]
    (tmp_path / "bad.mid").write_bytes(b"MThd garbage")
    p = subprocess.run([sys.executable, "-m", "cadenza", "attribute", str(tmp_path / "bad.mid")], capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "bad.mid" in p.stderr


def test_shipped_audio_model(tmp_path: Path) -> None:
    """A procedural texture the model never saw (another seed): the audio model names its source, and the CLI
    reads a recording."""
    from cadenza.audio.textures import make_texture
    from cadenza.io.audio import write_audio

    model = Attribution.from_pretrained("attribution-audio")
    assert model.cfg.domain == "audio" and model.figures["accuracy"] > 3 * model.figures["chance"]
    clip, _ = make_texture("rain", 4.0, 16000, np.random.default_rng(12345))
    write_audio(clip, tmp_path / "rain.wav")
    p = subprocess.run([sys.executable, "-m", "cadenza", "attribute", str(tmp_path / "rain.wav"), "--json"],
                       capture_output=True, text=True)  # fmt: skip
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result["guesses"][0]["label"] in ("real@texture", "noisebandnet", "synthformer")
    assert not any(f["feature"].startswith(("clap_", "classifier_")) for f in result["features"])  # named only
    write_audio(type(clip)(np.zeros((1, 16000), np.float32), 16000), tmp_path / "quiet.wav")
    p = subprocess.run([sys.executable, "-m", "cadenza", "attribute", str(tmp_path / "quiet.wav")],
                       capture_output=True, text=True)  # fmt: skip
    assert p.returncode == 2 and "silent" in p.stderr and p.stderr.count("\n") == 1


def test_studio_attribute_api(tmp_path: Path, essen_scores) -> None:  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from cadenza.studio.app import create_app

    midi = tmp_path / "tune.mid"
    io.write(essen_scores[3], midi)
    with TestClient(create_app(tmp_path / "ws")) as c:
        assert c.get("/attribute").status_code == 200
        r = c.post("/api/attribute", files={"file": ("tune.mid", midi.read_bytes(), "audio/midi")})
        assert r.status_code == 200 and len(r.json()["guesses"]) == 5
        assert c.post("/api/attribute", files={"file": ("x.exe", b"MZ", "audio/wav")}).status_code == 415
        bad = c.post("/api/attribute", files={"file": ("x.mid", b"MThd", "audio/midi")})
        assert bad.status_code == 400 and bad.json()["error"].startswith("x.mid:")  # the user's name, not a temp path
        assert c.post("/api/attribute", files={"file": ("x.wav", b"RIFF", "audio/wav")}).status_code == 400
        assert c.post("/api/attribute").status_code == 400
