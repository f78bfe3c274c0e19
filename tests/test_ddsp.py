"""DDSP synths and model, NoiseBandNet, and their commands (tiny configs; seconds each)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run

from cadenza.audio import ddsp
from cadenza.audio import noisebandnet as nbn
from cadenza.audio.synths import FilteredNoise, HarmonicSynth, Reverb, overlap_add
from cadenza.core.audio import AudioClip, AudioError
from cadenza.errors import InputError
from cadenza.io.audio import write_audio

SR = 16000
TINY = ddsp.DDSPConfig(hidden=16, n_harmonics=8, reverb_s=0.05, excerpt_s=0.5, batch_size=2)
TINY_NBN = nbn.NoiseBandConfig(n_bands=16, hidden=16, noise_length=1 << 13, excerpt_s=0.2, batch_size=2)


def test_harmonic_synth_plays_f0() -> None:
    synth = HarmonicSynth(SR, 160, n_harmonics=4)
    amp = torch.full((1, 100, 1), 5.0)
    harm = torch.tensor([10.0, -10, -10, -10]).expand(1, 100, 4)  # all energy in the fundamental
    ctl = synth.get_controls(amp, harm, torch.full((1, 100, 1), 500.0))
    y = synth.get_signal(**ctl)[0].numpy()
    assert y.shape == (16000,)
    assert np.argmax(np.abs(np.fft.rfft(y))) == 500


def test_harmonics_above_nyquist_are_silent() -> None:
    synth = HarmonicSynth(SR, 160, n_harmonics=10)
    ctl = synth.get_controls(torch.zeros(1, 4, 1), torch.zeros(1, 4, 10), torch.full((1, 4, 1), 3000.0))
    dist = ctl["harmonic_distribution"][0, 0]
    assert dist[:2].sum().item() == pytest.approx(1.0) and dist[2:].abs().max().item() == 0


def test_filtered_noise_follows_its_bands() -> None:
    noise = FilteredNoise(160, 65)
    mags = torch.full((1, 200, 65), -20.0)
    mags[..., 40:50] = 20.0  # pass ~5-6 kHz only
    y = noise.get_signal(**noise.get_controls(mags), generator=torch.Generator().manual_seed(0))
    spec = np.abs(np.fft.rfft(y[0].numpy())) ** 2
    freqs = np.fft.rfftfreq(y.shape[1], 1 / SR)
    band = (freqs > 4900) & (freqs < 6100)
    assert spec[band].sum() > 0.9 * spec.sum()
    frames = torch.ones(1, 3, 4)
    assert overlap_add(frames, 2).tolist() == [[1, 1, 2, 2, 2, 2, 1, 1]]


def test_reverb_keeps_the_dry_path() -> None:
    rev = Reverb(SR, 0.1)
    assert rev.impulse_response()[0].item() == 1.0
    impulse = torch.zeros(1, 4000)
    impulse[0, 0] = 1
    assert torch.allclose(rev(impulse)[0, :1600], rev.impulse_response(), atol=1e-5)


def _features(seconds: float = 1.0) -> ddsp.Features:
    t = np.arange(round(seconds * SR)) / SR
    audio = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    n = len(audio) // 160
    return ddsp.Features(audio, np.full(n, 330.0, np.float32), np.ones(n, np.float32), np.full(n, -20.0, np.float32))


def test_ddsp_shapes_and_overfit() -> None:
    torch.manual_seed(0)
    model = ddsp.DDSP(TINY)
    batches = ddsp.ExcerptBatches([_features()], TINY)
    batch = batches.batch(0)
    assert batch["audio"].shape == (2, 8000) and batch["f0_hz"].shape == (2, 50)
    assert model(batch["f0_hz"], batch["loudness_db"]).shape == (2, 8000)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = ddsp.ddsp_loss(model, batch).item()
    for _ in range(60):
        loss = ddsp.ddsp_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


def test_ddsp_with_a_learned_z() -> None:
    torch.manual_seed(0)
    cfg = ddsp.DDSPConfig(**{**TINY.__dict__, "z_dim": 4})
    model = ddsp.DDSP(cfg)
    batch = ddsp.ExcerptBatches([_features()], cfg).batch(0)
    assert model.encoder is not None and model.encoder(batch["audio"]).shape == (2, 50, 4)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = ddsp.ddsp_loss(model, batch).item()
    for _ in range(40):
        loss = ddsp.ddsp_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first
    with pytest.raises(ValueError, match="needs the audio"):
        model(batch["f0_hz"], batch["loudness_db"])


def test_ddsp_save_load_and_transfer(tmp_path: Path) -> None:
    model = ddsp.DDSP(TINY)
    model.save_pretrained(tmp_path / "m", figures={"mean_f0_midi": 76.0, "mean_loudness_db": -30.0}, card="card")
    back = ddsp.DDSP.from_pretrained(tmp_path / "m")
    f = _features(0.5)
    a = ddsp.synthesize(model.eval(), f.f0_hz, f.loudness_db)
    b = ddsp.synthesize(back, f.f0_hz, f.loudness_db)
    np.testing.assert_array_equal(a.samples, b.samples)
    clip = AudioClip(_features(1.0).audio, SR)
    out, plan, _ = ddsp.timbre_transfer(back, clip, figures=back.figures)
    assert out.n_samples == 16000 and plan.pitch_shift == 12.0  # E4 (64) moves up an octave towards 76
    with pytest.raises(AudioError, match="no pitched sound"):
        ddsp.timbre_transfer(back, AudioClip(np.zeros(SR), SR))
    with pytest.raises(AudioError, match="too short"):  # once returned a 0.1 s blip
        ddsp.timbre_transfer(back, clip.slice_s(0, 0.1))
    with pytest.raises(InputError, match="not a 'noisebandnet' model"):
        nbn.NoiseBandNet.from_pretrained(tmp_path / "m")


def test_transfer_keeps_the_input_level() -> None:
    """The model plays at its training loudness; the file comes out at the input's (a trumpet once came out 11 dB
    louder than it went in)."""
    model = ddsp.DDSP(TINY).eval()
    figures = {"mean_f0_midi": 64.0, "mean_loudness_db": -30.0}
    for gain_db in (-20.0, 0.0):
        clip = AudioClip(_features(1.0).audio, SR).gain_db(gain_db)
        out, _, _ = ddsp.timbre_transfer(model, clip, figures=figures)
        assert abs(ddsp.source_loudness_db(out) - ddsp.source_loudness_db(clip)) < 1.5
        raw, _, _ = ddsp.timbre_transfer(model, clip, figures=figures, match_level=False)
        assert np.abs(raw.samples).max() > 0  # the unmatched output exists too


def test_ddsp_resynthesis_measures() -> None:
    """The spectral distance of a clip to the model's own resynthesis of it is 0, to a silent clip it is large,
    and the figure is the mean over clips."""
    model = ddsp.DDSP(TINY).eval()
    f = _features(0.5)
    own = ddsp.synthesize(model, f.f0_hz, f.loudness_db, segment_frames=None).samples[0]
    same = replace(f, audio=own)
    silent = replace(f, audio=np.zeros_like(f.audio))
    assert ddsp.evaluate_resynthesis(model, [same], reanalyse=False)["spectral_distance"] < 1e-4
    far = ddsp.evaluate_resynthesis(model, [silent], reanalyse=False)["spectral_distance"]
    assert far > 1.0
    both = ddsp.evaluate_resynthesis(model, [same, silent], reanalyse=False)["spectral_distance"]
    assert both == pytest.approx(far / 2, rel=1e-4)


def test_band_edges_are_linear_then_log() -> None:
    edges = nbn.band_edges(64, SR)
    widths = np.diff(edges)
    assert len(edges) == 65 and edges[0] == 0 and edges[-1] == SR / 2
    assert np.allclose(widths[:3], widths[0]) and widths[-1] > 10 * widths[0]
    bands = nbn.make_noise_bands(nbn.NoiseBandConfig(n_bands=16, noise_length=1 << 12))
    assert bands.shape == (16, 4096)
    assert torch.allclose(bands.pow(2).mean(-1), torch.ones(16), atol=1e-3)


def test_noisebandnet_overfits_and_saves(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(SR) * np.linspace(0.01, 0.3, SR)).astype(np.float32)
    ctl = nbn.control_curves(audio, SR, TINY_NBN.frame_rate)
    assert ctl.shape == (250, 2)
    for synth in ("noisebands", "ddsp-noise"):
        cfg = nbn.NoiseBandConfig(**{**TINY_NBN.__dict__, "synth": synth})
        model = nbn.NoiseBandNet(cfg)
        batch = nbn.ControlBatches([(ctl, audio[: 250 * 64])], cfg).batch(0)
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        first = nbn.noiseband_loss(model, batch).item()
        for _ in range(40):
            loss = nbn.noiseband_loss(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.item() < 0.8 * first, synth
    model.save_pretrained(tmp_path / "n", card="card")
    back = nbn.NoiseBandNet.from_pretrained(tmp_path / "n")
    a = nbn.generate_from_controls(model.eval(), ctl, seed=1)
    b = nbn.generate_from_controls(back, ctl, seed=1)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.n_samples == 250 * 64


def test_control_csv(tmp_path: Path) -> None:
    good = tmp_path / "c.csv"
    good.write_text("time_s,loudness_db,centroid_hz\n0,-40,500\n2,-10,3000\n")
    ctl = nbn.read_control_csv(good, 250)
    assert ctl.shape == (500, 2) and ctl[0, 0] == -40 and ctl[-1, 1] == pytest.approx(np.log2(3000), abs=0.01)
    bad = tmp_path / "bad.csv"
    for text, msg in [("0,-40\n1,-30\n", "expected"), ("0,-40,500\n", "at least two"), ("1,0,5\n0,0,5\n", "increase")]:
        bad.write_text(text)
        with pytest.raises(InputError, match=msg):
            nbn.read_control_csv(bad, 250)


def test_noiseband_and_ddsp_commands(tmp_path: Path) -> None:
    data = tmp_path / "tex"
    p = run("data", "textures", "--kind", "wind", "--clips", "10", "--duration", "1.5", "-o", str(data))
    assert p.returncode == 0, p.stderr
    model = tmp_path / "nbn"
    p = run("noisebandnet", "train", "--data", str(data), "--bands", "16", "--hidden", "16", "--steps", "3",
            "--eval-every", "3", "--threads", "1", "-o", str(model))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert (model / "model.safetensors").exists() and "NoiseBandNet" in (model / "card.md").read_text()
    csv = tmp_path / "curve.csv"
    csv.write_text("0,-50,400\n1.5,-15,2500\n")
    p = run("noisebandnet", "generate", "--model", str(model), "--control", str(csv), "-o", str(tmp_path / "w.wav"))
    assert p.returncode == 0 and "1.5 s" in p.stdout, p.stderr
    first = sorted((data / "train").iterdir())[0]
    p = run("noisebandnet", "generate", "--model", str(model), "--from", str(first), "-o", str(tmp_path / "f.wav"))
    assert p.returncode == 0, p.stderr
    assert_user_error(run("noisebandnet", "generate", "--model", str(model), "-o", str(tmp_path / "x.wav")), "give one")
    assert_user_error(run("ddsp", "transfer", str(first), "--model", str(model), "-o", str(tmp_path / "y.wav")),
                      "not a 'ddsp' model")  # fmt: skip


def test_ddsp_transfer_command_errors(tmp_path: Path) -> None:
    ddsp.DDSP(TINY).save_pretrained(tmp_path / "m", card="card")
    m = str(tmp_path / "m")
    write_audio(AudioClip(np.zeros(SR), SR), tmp_path / "silence.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    for name, msg in [("silence.wav", "no pitched sound"), ("empty.wav", "empty file"), ("none.wav", "no such file")]:
        assert_user_error(run("ddsp", "transfer", str(tmp_path / name), "--model", m, "-o", str(tmp_path / "o.wav")),
                          name, msg)  # fmt: skip
    assert not (tmp_path / "o.wav").exists()
    t = np.arange(44100) / 44100
    stereo = AudioClip(np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2), 44100)
    write_audio(stereo, tmp_path / "st.wav")
    p = run(
        "ddsp", "transfer", str(tmp_path / "st.wav"), "--model", m, "--pitch-shift", "0", "-o", str(tmp_path / "o.wav")
    )
    assert p.returncode == 0, p.stderr
    assert "mixed 2 channels down to mono" in p.stdout and "resampled 44100 -> 16000 Hz" in p.stdout
