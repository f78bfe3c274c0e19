"""The Sound Model Factory's parts: the SOM orders its grid, the path follows the parameter, spherical steps
along it, live blocks equal the offline output, drawn curves are checked, and the four stages run end to end from
the command line (tiny sizes; the shipped model's quality is measured in benchmarks/smf.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run

from cadenza.audio.gansynth import GANSynthConfig, GANSynthTrainer, auxiliary_loss
from cadenza.audio.smf import SOM, SoundModel, SoundModelConfig, along, control_curve_csv, parameter_path
from cadenza.errors import InputError


def test_som_orders_a_line_of_points_along_its_grid() -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1, 500)
    data = np.stack([t, 0.05 * rng.standard_normal(500)], 1)  # points along a line
    som = SOM.fit(data, rows=1, cols=12, epochs=15)
    first = som.grid()[0, :, 0]
    steps = np.diff(first)
    assert (steps > 0).all() or (steps < 0).all()  # neighbours on the grid are neighbours on the line
    assert first.max() - first.min() > 0.7  # and the map spreads over it


def test_path_runs_along_the_parameter_from_low_to_high() -> None:
    rows, cols, latent = 4, 5, 3
    p = np.tile(np.linspace(1, 0, rows)[:, None], (1, cols))  # the parameter falls down the rows
    nodes = np.concatenate([np.random.default_rng(0).standard_normal((rows * cols, latent)),
                            p.reshape(-1, 1)], 1)  # fmt: skip
    som = SOM(rows, cols, np.zeros((rows * cols, 2), np.float32))
    path = parameter_path(som, nodes)
    assert path.shape == (rows, latent + 1)
    assert np.allclose(path[:, -1], np.linspace(0, 1, rows))


def test_along_interpolates_the_latent_on_the_sphere_and_hits_the_nodes() -> None:
    a = np.array([3.0, 0.0, 0.0, 0.2])
    b = np.array([0.0, 3.0, 0.0, 0.8])
    path = np.stack([a, b]).astype(np.float32)
    pts = along(path, np.linspace(0, 1, 5))
    assert np.allclose(pts[0], a) and np.allclose(pts[-1], b, atol=1e-6)
    assert np.allclose(np.linalg.norm(pts[:, :3], axis=1), 3.0, atol=1e-5)  # no dip in the middle
    assert np.allclose(pts[:, -1], np.linspace(0.2, 0.8, 5))


def tiny_model() -> SoundModel:
    torch.manual_seed(0)
    gan = GANSynthConfig(n_fft=64, hop=32, frames=8, channels=(8, 8, 8), latent_dim=4, if_channel=False, n_params=1)
    from dataclasses import asdict

    m = SoundModel(SoundModelConfig(gan=asdict(gan), rnn={"n_bands": 16, "hidden": 16, "noise_length": 4096},
                                    path_points=3))  # fmt: skip
    return m.eval()


def test_live_blocks_equal_the_offline_output_one_frame_late() -> None:
    m = tiny_model()
    values = [0.1, 0.9, 0.4, 0.4, 0.7]
    block = 7
    stream = m.stream(seed=3)
    live = np.concatenate([stream.step(v, block) for v in values])
    curve = np.repeat(np.array(values, np.float32), block)
    offset = int(np.random.default_rng(3).integers(0, m.rnn.cfg.noise_length))
    with torch.no_grad():
        offline = m.rnn(torch.from_numpy(curve)[None, :, None], offset=offset)[0].numpy()
    hop = m.rnn.cfg.hop
    assert len(live) == len(offline) - hop  # the last frame waits for the next value
    assert np.allclose(live, offline[: len(live)], atol=1e-5)
    with pytest.raises(InputError, match="outside"):
        stream.step(float("nan"))


def test_texture_gan_is_conditioned_on_its_parameter() -> None:
    cfg = GANSynthConfig(n_fft=64, hop=32, frames=8, channels=(8, 8, 8), latent_dim=4, if_channel=False, n_params=1)
    trainer = GANSynthTrainer(cfg)
    feats = torch.rand(4, 1, 8, 32) * 2 - 1
    cond = torch.tensor([[0.0], [0.3], [0.6], [1.0]])
    out = trainer(feats, cond, torch.randn(4, 4))
    assert torch.isfinite(out["loss"]) and 0 <= float(out["d_aux"]) <= 1  # a squared error of values in [0, 1]
    assert float(auxiliary_loss(torch.full((2, 1), 50.0), torch.ones(2, 1))) < 1e-6
    # the projection term: the critic scores the same sound differently under another parameter
    with torch.no_grad():
        a, _ = trainer.disc(feats, cond)
        b, _ = trainer.disc(feats, 1 - cond)
    assert not torch.allclose(a, b)
    # the generator's per-stage parameter biases start at zero and are trained by the step
    out["loss"].backward()
    gen = trainer.model.generator
    assert all(float(m.weight.abs().max()) == 0 for m in gen.cond_bias)
    assert any(m.weight.grad is not None and float(m.weight.grad.abs().max()) > 0 for m in gen.cond_bias)


def test_curve_csv_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "c.csv"
    good.write_text("time_s,value\n0,0.1\n1,0.9\n")
    curve = control_curve_csv(good, 10)
    assert len(curve) == 10 and abs(curve[0] - 0.1) < 1e-6 and curve[-1] > 0.8
    cases = (("0,0.1\n1,nan\n", "NaN"), ("0,0.1\n1,1.5\n", r"outside \[0, 1\]"), ("0,0.1\n0,0.2\n", "increase"),
             ("0,0.1\n", "two rows"), ("0,0.1,3\n1,0.2,3\n", "expected time_s,value"))  # fmt: skip
    for text, what in cases:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(InputError, match=what):
            control_curve_csv(bad, 10)


@pytest.mark.slow
def test_build_and_play_from_the_command_line(tmp_path: Path) -> None:
    from cadenza.audio.textures import build_textures
    from cadenza.io.audio import read_audio

    data = tmp_path / "tex"
    build_textures(["wind", "rain"], data, n_clips=10, duration_s=2.5, progress=False)
    model = tmp_path / "smf"
    p = run("smf", "build", "--texture", "wind", "--data", str(data), "--gan-steps", "2", "--rnn-steps", "2",
            "--clips", "2", "--som-samples", "64", "--threads", "1", "-o", str(model))  # fmt: skip
    assert p.returncode == 0, p.stderr
    card = (model / "card.md").read_text()
    assert "Sound Model Factory" in card and "strength" in card
    curve = tmp_path / "curve.csv"
    curve.write_text("time_s,value\n0,0\n1.5,1\n")
    out = tmp_path / "out.wav"
    p = run("smf", "play", "--model", str(model), "--curve", str(curve), "-o", str(out))
    assert p.returncode == 0, p.stderr
    clip = read_audio(out)
    assert abs(clip.duration_s - 1.5) < 0.05 and np.isfinite(clip.samples).all()
    live = tmp_path / "live.wav"
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "cadenza", "smf", "play", "--model", str(model), "--live",
                           "--seconds", "0.5", "-o", str(live)], input="0.2\nloud\n0.9\n", capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ignored 'loud'" in proc.stderr and abs(read_audio(live).duration_s - 0.5) < 0.05
    # bad input: one line, exit 2, nothing written
    curve.write_text("0,0.2\n1,nan\n")
    p = run("smf", "play", "--model", str(model), "--curve", str(curve), "-o", str(tmp_path / "x.wav"))
    assert_user_error(p, "curve.csv", "NaN")
    p = run("smf", "play", "--model", str(model), "--value", "1.5", "-o", str(tmp_path / "x.wav"))
    assert_user_error(p, "--value", "outside")
    assert not (tmp_path / "x.wav").exists()
    p = run("smf", "build", "--texture", "bugs", "--data", str(data), "-o", str(tmp_path / "b"))
    assert_user_error(p, "has no 'bugs' clips")
    p = run("smf", "build", "--texture", "thunder", "-o", str(tmp_path / "b"))
    assert_user_error(p, "unknown texture kind")
    assert not (tmp_path / "b").exists()
