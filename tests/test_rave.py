"""RAVE: the model, its two training phases, the latent PCA, streaming, the TorchScript and ONNX exports in a fresh
process, the prior, and the commands' errors (tiny configs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tests.test_cli import assert_user_error, run

from cadenza.audio.rave import RAVE, RAVEConfig, impulse_response
from cadenza.audio.rave_train import RAVELossConfig, RAVETrainer, analyse_latents
from cadenza.core.audio import AudioClip
from cadenza.io.audio import write_audio

SR = 16000
TINY = RAVEConfig(channels=4, decoder_channels=16, latent_dim=4, noise_bands=3, noise_strides=(2, 2))
HOP = TINY.hop  # 512


def tone(seconds: float, freq: float = 330.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t) * np.minimum(1, 4 * t)).astype(np.float32)


def tiny_model(seed: int = 0, cfg: RAVEConfig = TINY) -> RAVE:
    torch.manual_seed(seed)
    return RAVE(cfg).eval()


def test_shapes_and_kl() -> None:
    model = tiny_model().train()
    x = torch.randn(2, 1, 6 * HOP) * 0.1
    y, kl = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert kl.ndim == 0 and kl > 0
    mean, std = model.posterior(x)
    assert mean.shape == (2, 4, 6) and (std > 0).all()
    with pytest.raises(ValueError, match="whole number"):
        model.posterior(x[..., :-1])


def test_impulse_response_is_the_asked_magnitude() -> None:
    amp = torch.tensor([1.0, 0.5, 0.25, 0.0, 0.0])
    ir = impulse_response(amp, 16)
    assert ir.shape == (16,)
    mag = torch.fft.rfft(ir, 8).abs()  # the 8-tap filter (before padding) sampled at the 5 asked frequencies
    assert mag[0] > mag[2] > mag[4] - 1e-6  # windowed: a smoothed version of the low-pass asked


MEL = RAVEConfig(**{**TINY.__dict__, "encoder": "mel"})
SPECTRAL = RAVEConfig(**{**MEL.__dict__, "decoder": "spectral", "decoder_layers": 2})


@pytest.mark.parametrize(("seed", "cfg"), [(0, TINY), (1, TINY), (2, TINY), (0, MEL), (1, MEL), (0, SPECTRAL),
                                           (1, SPECTRAL)])  # fmt: skip
def test_stream_equals_the_whole_file_over_random_blocks(seed: int, cfg: RAVEConfig) -> None:
    """Block by block (random sizes) the output is the whole file's, sample for sample, lagging by `delay`: no
    clicks at block edges. The log-mel encoder's STFT streams as its convolutions do."""
    model = tiny_model(cfg=cfg)
    x = torch.randn(1, 1, 40 * HOP) * 0.1
    with torch.no_grad():
        whole = model.synthesis(model.posterior(x)[0])
        rng = np.random.default_rng(seed)
        parts, i = [], 0
        with model.stream():
            while i < 40:
                n = int(min(40 - i, rng.integers(1, 7)))
                parts.append(model.synthesis(model.posterior(x[..., i * HOP : (i + n) * HOP])[0]))
                i += n
    streamed = torch.cat(parts, -1)
    d = model.delay
    assert d == (128 if cfg.decoder == "waveform" else 3 * HOP)  # the 8-band PQMF's taps, or the window's overlap
    assert torch.allclose(streamed[..., d:], whole[..., : streamed.shape[-1] - d], atol=1e-6)


def test_mel_encoder_front_end_is_the_stft_of_the_frames_up_to_each_hop() -> None:
    from cadenza.audio.codec import MelEncoder

    enc = MelEncoder(MEL.sample_rate, MEL.mel_fft, HOP, MEL.n_mels, 8 * MEL.channels, 2 * MEL.latent_dim, MEL.causal)
    x = torch.randn(1, 1, 12 * HOP)
    re, im = enc.stft(x).chunk(2, dim=1)
    n = MEL.mel_fft
    ref = torch.stft(F.pad(x[0], (n - HOP, 0)), n, HOP, window=torch.hann_window(n), center=False,
                     return_complex=True).abs()  # fmt: skip
    assert re.shape == (1, n // 2 + 1, 12)
    assert torch.allclose((re.pow(2) + im.pow(2)).sqrt()[0], ref, atol=1e-3 * float(ref.max()))
    assert not any("basis" in k or k == "mel" for k in enc.state_dict())  # fixed: rebuilt at load, never saved
    assert all(p.requires_grad for p in enc.parameters())  # only the convolutions after it learn


def test_non_causal_model_refuses_to_stream() -> None:
    model = tiny_model(cfg=RAVEConfig(**{**TINY.__dict__, "causal": False}))
    x = torch.randn(1, 1, 4 * HOP) * 0.1
    assert model.resynthesize(x).shape == x.shape
    with pytest.raises(ValueError, match="causal"), model.stream():
        pass


def test_phases_train_their_own_parts() -> None:
    """Phase 1 trains encoder and decoder, not the discriminators; phase 2 the decoder and the discriminators, the
    encoder frozen."""
    trainer = RAVETrainer(TINY, RAVELossConfig(phase1_steps=10, disc_channels=4))
    x = torch.randn(2, 1, 8 * HOP) * 0.1

    def grads(step: int) -> dict[str, bool]:
        trainer.zero_grad(set_to_none=True)
        trainer(x, step)["loss"].backward()
        has = {}
        for part in ("rave.encoder", "rave.decoder", "disc"):
            ps = [p for n, p in trainer.named_parameters() if n.startswith(part)]
            has[part] = any(p.grad is not None and p.grad.abs().sum() > 0 for p in ps)
        return has

    assert grads(0) == {"rave.encoder": True, "rave.decoder": True, "disc": False}
    assert grads(10) == {"rave.encoder": False, "rave.decoder": True, "disc": True}
    assert trainer.beta(0) == 0 and trainer.beta(2) == pytest.approx(0.004) and trainer.beta(9) == pytest.approx(0.01)


def test_overfits_one_batch() -> None:
    torch.manual_seed(0)
    trainer = RAVETrainer(TINY, RAVELossConfig(phase1_steps=100))
    x = torch.tensor(tone(8 * HOP / SR))[None, None]
    opt = torch.optim.Adam(trainer.rave.parameters(), 3e-3)
    losses = []
    for step in range(40):
        opt.zero_grad()
        loss = trainer(x, step)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses


def test_latent_pca_is_an_orthonormal_sorted_basis() -> None:
    model = tiny_model()
    clips = [tone(1.0, f) for f in (220, 330, 440, 660)]
    info = analyse_latents(model, clips, progress=False)
    c = model.latent_components
    assert torch.allclose(c @ c.T, torch.eye(4), atol=1e-5)
    var = model.latent_variance
    assert (var[:-1] >= var[1:]).all() and abs(sum(info["explained_variance"]) - 1) < 1e-3
    dims = [model.fidelity_dims(f) for f in (0.5, 0.9, 0.99, 1.0)]
    assert dims == sorted(dims) and dims[-1] == 4
    x = torch.tensor(clips[0])[None, None]
    with torch.no_grad():  # all dimensions: the basis change is exact
        direct = model.synthesis(model.posterior(model.pad_to_frames(x))[0])
        assert torch.allclose(model.decode(model.encode(x)), direct, atol=1e-5)


def test_save_and_load(tmp_path: Path) -> None:
    model = tiny_model()
    analyse_latents(model, [tone(1.0)], progress=False)
    model.save_pretrained(tmp_path / "m")
    again = RAVE.from_pretrained(tmp_path / "m")
    x = torch.tensor(tone(0.5))[None, None]
    assert torch.equal(model.resynthesize(x), again.resynthesize(x))


@pytest.mark.parametrize("cfg", [TINY, MEL, SPECTRAL])
def test_export_runs_block_by_block_in_a_fresh_process_without_cadenza(tmp_path: Path, cfg: RAVEConfig) -> None:
    from cadenza.audio.rave_export import export_torchscript

    model = tiny_model(cfg=cfg)
    info = export_torchscript(model, tmp_path / "m.ts", dims=3)
    assert info["latency_samples"] == HOP + model.delay and info["latent_size"] == 3
    x = torch.randn(1, 1, 24 * HOP) * 0.1
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad(), model.stream():  # what the library gives for the same stream
        expected = model.decode(model.encode(x)[:, :3])
    torch.save(expected, tmp_path / "expected.pt")
    code = f"""
import sys, torch
x = torch.load({str(tmp_path / "x.pt")!r}, weights_only=True)
expected = torch.load({str(tmp_path / "expected.pt")!r}, weights_only=True)
m = torch.jit.load({str(tmp_path / "m.ts")!r})
assert m.get_methods() == ["encode", "decode", "forward"] and m.sampling_rate == 16000
assert m.encode_params.tolist() == [1, 1, 3, 512] and m.decode_params.tolist() == [3, 512, 1, 1]
parts, i = [], 0
for n in [1, 5, 2, 7, 1, 8]:
    parts.append(m.forward(x[..., i * 512 : (i + n) * 512]))
    i += n
y = torch.cat(parts, -1)
assert (y - expected).abs().max() < 1e-5, (y - expected).abs().max()
fresh = torch.jit.load({str(tmp_path / "m.ts")!r})
z = fresh.encode(x)
assert z.shape == (1, 3, 24)
moved = torch.jit.load({str(tmp_path / "m.ts")!r})
moved.set_bias(torch.tensor([1.0, 0.0, 0.0]))
expected_moved = torch.jit.load({str(tmp_path / "m.ts")!r}).decode(z + torch.tensor([1.0, 0.0, 0.0])[:, None])
assert (moved.forward(x) - expected_moved).abs().max() < 1e-5  # live control: z + bias
assert not any(name.startswith("cadenza") for name in sys.modules)
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


@pytest.mark.parametrize("cfg", [TINY, SPECTRAL])
def test_onnx_export_transfers_like_the_library_in_onnxruntime(tmp_path: Path, cfg: RAVEConfig) -> None:
    from cadenza.audio.rave_export import export_onnx

    model = tiny_model(cfg=cfg)
    info = export_onnx(model, tmp_path / "m.onnx", dims=3)
    assert info == {"sampling_rate": 16000, "ratio": HOP, "latent_size": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # one file, no external data, no temporary left
    x = torch.randn(2, 1, 24 * HOP) * 0.1  # another length and batch than the export's example
    bias, scale = torch.tensor([0.5, 0.0, -0.2]), torch.tensor([1.0, 0.5, 2.0])
    # what the library gives: 3 PCA dimensions, each z * scale + bias, aligned with the input
    expected = torch.cat([model.resynthesize(x[i : i + 1], dims=3, bias=bias, scale=scale) for i in range(2)])
    np.savez(tmp_path / "io.npz", x=x.numpy(), bias=bias.numpy(), scale=scale.numpy(), expected=expected.numpy())
    code = f"""
import sys, numpy as np, onnxruntime
io = np.load({str(tmp_path / "io.npz")!r})
s = onnxruntime.InferenceSession({str(tmp_path / "m.onnx")!r})
meta = s.get_modelmeta().custom_metadata_map
assert meta == {{"sampling_rate": "16000", "ratio": "512", "latent_size": "3"}}, meta
(y,) = s.run(None, {{"audio": io["x"], "bias": io["bias"], "scale": io["scale"]}})
assert y.shape == io["x"].shape and np.abs(y - io["expected"]).max() < 1e-4, np.abs(y - io["expected"]).max()
assert not any(name.startswith(("cadenza", "torch")) for name in sys.modules)
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_prior_learns_and_generates() -> None:
    from cadenza.audio.rave_prior import PriorConfig, RAVEPrior

    torch.manual_seed(0)
    prior = RAVEPrior(PriorConfig(dims=2, n_bins=8, hidden=32, n_layers=1))
    t = torch.arange(64, dtype=torch.float32)
    z = torch.stack([torch.sin(t / 3), torch.cos(t / 5)], -1)[None].repeat(4, 1, 1)  # [4, 64, 2]: predictable
    prior.set_bins(z.reshape(-1, 2))
    opt = torch.optim.Adam(prior.parameters(), 1e-2)
    first = prior(z).item()
    for _ in range(60):
        opt.zero_grad()
        loss = prior(z)
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first
    out = prior.eval().generate(20, temperature=0.5, seed=1)
    assert out.shape == (1, 2, 20)
    assert torch.equal(out, prior.generate(20, temperature=0.5, seed=1))  # a seed reproduces it
    assert set(out[0, 0].tolist()) <= set(prior.centers[0].tolist())


def _dataset(root: Path, seconds: float) -> Path:
    from cadenza.audio.datasets import write_manifest

    entries = []
    for i, split in enumerate(["train", "train", "valid"]):
        write_audio(AudioClip(tone(seconds, 200 * (1 + i)), SR), root / f"{split}/t{i}.wav")
        entries.append({"file": f"{split}/t{i}.wav", "split": split})
    write_manifest(root, entries)
    return root


TINY_ARGS = ["--channels", "4", "--decoder-channels", "16", "--latent-dim", "4", "--batch-size", "2", "--threads", "1"]


def test_train_transfer_export_prior_generate_commands(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data", 6.0)
    write_audio(AudioClip(tone(6.0, 250), 22050), data / "train" / "t0.wav")  # another rate: resampled, and said
    out = tmp_path / "rave"
    p = run("rave", "train", "--data", str(data), *TINY_ARGS, "--steps", "4", "--phase1-steps", "2",
            "--eval-every", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "phase 2 (GAN)" in p.stderr and "dims_at_fidelity_0.95" in p.stdout
    assert "resampled 1 clips to 16000 Hz" in p.stdout
    card = (out / "card.md").read_text()
    assert "phase 1" in card and "Latent PCA" in card
    write_audio(AudioClip(tone(1.3, 500), SR), tmp_path / "in.wav")
    p = run("rave", "transfer", str(tmp_path / "in.wav"), "--model", str(out), "--fidelity", "0.9", "--bias", "0.5",
            "-o", str(tmp_path / "t.wav"))  # fmt: skip
    assert p.returncode == 0 and "fidelity 0.9" in p.stdout, p.stderr
    from cadenza.io.audio import read_audio

    assert read_audio(tmp_path / "t.wav").n_samples == round(1.3 * SR)
    p = run("rave", "encode", str(tmp_path / "in.wav"), "--model", str(out), "-o", str(tmp_path / "z.npy"))
    assert p.returncode == 0, p.stderr
    p = run("rave", "decode", str(tmp_path / "z.npy"), "--model", str(out), "-o", str(tmp_path / "d.wav"))
    assert p.returncode == 0, p.stderr
    p = run("rave", "export", "--model", str(out), "-o", str(tmp_path / "m.ts"))
    # the default (spectral) decoder's latency: a 512-sample block + the inverse STFT's 3 hops of overlap
    assert p.returncode == 0 and "latency 128 ms" in p.stdout, p.stderr
    p = run("rave", "export", "--model", str(out), "-o", str(tmp_path / "m.onnx"))
    assert p.returncode == 0 and "ONNX" in p.stdout and (tmp_path / "m.onnx").stat().st_size > 10_000, p.stderr
    assert_user_error(run("rave", "generate", "--model", str(out), "-o", str(tmp_path / "g.wav")), "no prior")
    p = run("rave", "prior", "--model", str(out), "--data", str(data), "--dims", "2", "--hidden", "16", "--steps", "3",
            "--threads", "1")  # fmt: skip
    assert p.returncode == 0 and (out / "prior" / "model.safetensors").exists(), p.stderr
    p = run("rave", "generate", "--model", str(out), "--seconds", "1", "-o", str(tmp_path / "g.wav"))
    assert p.returncode == 0 and read_audio(tmp_path / "g.wav").n_samples == SR, p.stderr


def test_trains_on_a_plain_folder_of_ones_own_audio(tmp_path: Path) -> None:
    from cadenza.audio.rave_train import training_audio

    for i in range(3):
        write_audio(AudioClip(tone(6.0, 200 + 50 * i), SR), tmp_path / "mine" / f"take{i}.wav")
    train, valid = training_audio([tmp_path / "mine"], SR)
    assert len(train) == 2 and len(valid) == 1  # no manifest: the last file is held out
    write_audio(AudioClip(tone(20.0), SR), tmp_path / "one" / "long.flac")
    train, valid = training_audio([tmp_path / "one"], SR)
    assert len(train[0]) == 18 * SR and len(valid[0]) == 2 * SR  # one file: its last tenth
    p = run("rave", "train", "--data", str(tmp_path / "mine"), *TINY_ARGS, "--steps", "2", "--phase1-steps", "2",
            "--eval-every", "2", "-o", str(tmp_path / "m"))  # fmt: skip
    assert p.returncode == 0 and (tmp_path / "m" / "card.md").exists(), p.stderr
    (tmp_path / "empty").mkdir()
    assert_user_error(run("rave", "train", "--data", str(tmp_path / "empty"), "-o", str(tmp_path / "x")), "no audio")


def test_commands_refuse_bad_input(tmp_path: Path) -> None:
    import soundfile as sf

    short = _dataset(tmp_path / "short", 1.2)
    p = run("rave", "train", "--data", str(short), *TINY_ARGS, "--steps", "2", "-o", str(tmp_path / "x"))
    assert_user_error(p, "too little")
    assert not (tmp_path / "x" / "model.safetensors").exists()
    p = run("rave", "train", "--data", str(short), *TINY_ARGS, "--encoder", "waveform", "--steps", "2", "-o",
            str(tmp_path / "x"))  # fmt: skip
    assert_user_error(p, "spectral decoder goes with the mel encoder")
    silent = _dataset(tmp_path / "silent", 6.0)
    for wav in (silent / "train").glob("*.wav"):
        sf.write(wav, np.zeros(6 * SR, np.float32), SR)
    x = str(tmp_path / "x")
    assert_user_error(run("rave", "train", "--data", str(silent), *TINY_ARGS, "--steps", "2", "-o", x), "silent")
    nan_data = _dataset(tmp_path / "nan", 6.0)
    bad = tone(6.0)
    bad[5] = np.nan
    sf.write(nan_data / "train" / "t1.wav", bad, SR, subtype="FLOAT")
    assert_user_error(run("rave", "train", "--data", str(nan_data), *TINY_ARGS, "--steps", "2", "-o",
                          str(tmp_path / "x")), "t1.wav", "NaN")  # fmt: skip
    model = tiny_model(cfg=RAVEConfig(**{**TINY.__dict__, "causal": False}))
    model.save_pretrained(tmp_path / "nc")
    assert_user_error(run("rave", "export", "--model", str(tmp_path / "nc"), "-o", str(tmp_path / "m.ts")),
                      "cannot stream")  # fmt: skip
    assert not (tmp_path / "m.ts").exists()
    tiny_model().save_pretrained(tmp_path / "c")
    nan = tone(0.5)
    nan[100] = np.nan
    import soundfile as sf

    sf.write(tmp_path / "nan.wav", nan, SR, subtype="FLOAT")
    c, o = str(tmp_path / "c"), str(tmp_path / "o.wav")
    p = run("rave", "transfer", str(tmp_path / "nan.wav"), "--model", c, "-o", o)
    assert_user_error(p, "nan.wav")
    assert not (tmp_path / "o.wav").exists()
    np.save(tmp_path / "bad.npy", np.zeros((9, 3), np.float32))
    assert_user_error(run("rave", "decode", str(tmp_path / "bad.npy"), "--model", str(tmp_path / "c"), "-o",
                          str(tmp_path / "o.wav")), "bad.npy")  # fmt: skip
    assert_user_error(run("rave", "transfer", str(tmp_path / "nan.wav"), "--model", "codec", "-o",
                          str(tmp_path / "o.wav")), "codec")  # fmt: skip
