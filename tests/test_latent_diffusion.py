"""Latent diffusion: the schedule, the sampler, editing (SDEdit) and the commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run
from tests.test_text2music import caption_folder

from cadenza.audio.latent_diffusion import LatentDiffusion, LatentDiffusionConfig, alpha_sigma
from cadenza.audio.text2music import TextCondition, encode_text

TINY = LatentDiffusionConfig(n_layer=2, n_head=2, n_embd=32, latent_dim=8, dropout=0.0)


@pytest.fixture(scope="module")
def prompt() -> TextCondition:
    return encode_text(["a slow cello melody"], TINY.max_text_tokens)[0]


def test_schedule_and_v_target_recover_the_data() -> None:
    x0, noise = torch.randn(3, 8, 5), torch.randn(3, 8, 5)
    t = torch.tensor([0.1, 0.5, 0.9])
    a, s = (v[:, None, None] for v in alpha_sigma(t))
    assert torch.allclose(a**2 + s**2, torch.ones_like(a))
    xt, v = a * x0 + s * noise, a * noise - s * x0
    assert torch.allclose(a * xt - s * v, x0, atol=1e-5) and torch.allclose(s * xt + a * v, noise, atol=1e-5)


def test_training_lowers_the_loss(prompt: TextCondition) -> None:
    torch.manual_seed(0)
    model = LatentDiffusion(TINY)
    z = torch.randn(1, 8, 1).expand(4, 8, 12).contiguous()  # one constant latent: easy to learn
    text = TextCondition(*(x.expand(4, *x.shape[1:]) for x in prompt))
    chroma = torch.zeros(4, 12, 13)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def held_out() -> float:  # the same 8 draws of noise and levels each time
        g = torch.Generator().manual_seed(1)
        return sum(float(model.loss(z, text, chroma, generator=g).detach()) for _ in range(8)) / 8

    first = held_out()
    for _ in range(200):
        opt.zero_grad()
        loss = model.loss(z, text, chroma)
        loss.backward()
        opt.step()
    assert held_out() < 0.3 * first
    out = model.sample(prompt, 12, steps=10, seed=0)  # the sampler finds the one latent it learned
    assert float((out - z[:1]).abs().mean()) < 0.75 * float(z.abs().mean())  # untrained: 1.25x


def test_sampling_is_seeded_and_a_light_edit_stays_close(prompt: TextCondition) -> None:
    torch.manual_seed(0)
    model = LatentDiffusion(TINY)
    a, b = (model.sample(prompt, 10, steps=3, seed=4) for _ in range(2))
    assert a.shape == (1, 8, 10) and torch.equal(a, b)
    start = torch.randn(1, 8, 10)
    near = model.sample(prompt, 10, steps=2, start=start, strength=0.02, seed=0, melody=np.arange(10) % 12)
    far = model.sample(prompt, 10, steps=2, start=start, strength=1.0, seed=0)
    assert float((near - start).abs().mean()) < 0.1 < float((far - start).abs().mean())
    with pytest.raises(ValueError, match="strength"):
        model.sample(prompt, 10, strength=0.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ld")
    data, codec = caption_folder(root)
    out = root / "model"
    p = run("latent-diffusion", "train", "--data", str(data), "--codec", str(codec), "--layers", "1", "--heads", "2",
            "--width", "16", "--window-frames", "16", "--batch-size", "4", "--threads", "1", "--steps", "3",
            "--eval-every", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    return {"root": root, "data": data, "model": out}


def test_train_generate_edit(trained: dict[str, Path]) -> None:
    import soundfile as sf

    model = LatentDiffusion.from_pretrained(trained["model"])
    assert len(model.cfg.latent_mean) == 8 and "valid_loss_shuffled_text" in model.figures
    out = trained["root"] / "x.wav"
    p = run("latent-diffusion", "generate", "a high sine tone", "--model", str(trained["model"]), "--seconds", "0.5",
            "--steps", "3", "--melody", str(trained["data"] / "0.wav"), "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    y, sr = sf.read(out)
    assert sr == 16000 and len(y) == 8000 and np.isfinite(y).all()
    p = run("latent-diffusion", "edit", str(trained["data"] / "1.wav"), "a low sine tone", "--model",
            str(trained["model"]), "--steps", "2", "--strength", "0.5", "-o", str(out))  # fmt: skip
    assert p.returncode == 0 and "strength 0.5" in p.stdout, p.stderr
    assert len(sf.read(out)[0]) == int(1.2 * 16000)


def test_commands_refuse_bad_input(trained: dict[str, Path], tmp_path: Path) -> None:
    m, o = str(trained["model"]), str(tmp_path / "x.wav")
    wav = str(trained["data"] / "1.wav")
    assert_user_error(run("latent-diffusion", "generate", " ", "--model", m, "-o", o), "prompt", "empty")
    assert_user_error(run("latent-diffusion", "edit", wav, "a cello", "--strength", "0", "--model", m, "-o", o),
                      "--strength")  # fmt: skip
    assert_user_error(run("latent-diffusion", "edit", str(tmp_path / "none.wav"), "a cello", "--model", m, "-o", o),
                      "none.wav")  # fmt: skip
    assert not Path(o).exists()
