"""Codebook patterns and the Synthformer: round trips, the banded KV cache equal to the full computation, the
reference's recompute-the-window way equal to the cache, conditioning that is learned, curves, the frame decoder,
and the commands with their errors (tiny configs, a tiny random codec)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run

from cadenza.audio.codec import Codec, CodecConfig
from cadenza.audio.synthformer import FrameDecoder, Synthformer, SynthformerConfig, curve_frames, parse_curve
from cadenza.nn.patterns import Pattern

TINY = SynthformerConfig(n_codebooks=3, cardinality=16, classes=("a", "b"), params=("x", "y"),
                         class_params=("x", "x,y"), n_layer=2, n_head=2, n_embd=32, window=5)  # fmt: skip
TINY_CODEC = CodecConfig(channels=4, decoder_channels=16, latent_dim=8, n_codebooks=4, cardinality=16,
                         strides=(2, 4, 5))  # fmt: skip


def tiny(seed: int = 0, cfg: SynthformerConfig = TINY) -> Synthformer:
    torch.manual_seed(seed)
    model = Synthformer(cfg).eval()
    for b in model.blocks:  # adaLN starts at zero; make it do something
        torch.nn.init.normal_(b.mod.weight, std=0.1)
    return model


@pytest.mark.parametrize("name", ["parallel", "delay", "flattened"])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_patterns_round_trip(name: str, k: int) -> None:
    p = Pattern(name, k)
    codes = torch.randint(0, 10, (2, k, 7))
    steps = p.build(codes, pad=99)
    assert steps.shape == (2, p.streams, p.n_steps(7))
    assert torch.equal(p.revert(steps, 7), codes)


def test_delay_pattern_layout() -> None:
    p = Pattern("delay", 3)
    codes = torch.arange(12).view(1, 3, 4)
    steps = p.build(codes, pad=-1)[0]
    assert steps.tolist() == [[0, 1, 2, 3, -1, -1], [-1, 4, 5, 6, 7, -1], [-1, -1, 8, 9, 10, 11]]
    assert p.valid(0).tolist() == [True, False, False]
    assert p.valid(5, n_frames=4).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="unknown codebook pattern"):
        Pattern("zigzag", 2)


def _inputs(model: Synthformer, codes: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    steps = model.pattern.build(codes, model.pad)
    s = steps.shape[-1]
    inputs = torch.cat([torch.full_like(steps[..., :1], model.bos), steps[..., :-1]], -1)
    return inputs, cond[:, [min(i, codes.shape[-1] - 1) for i in range(s)]]


def test_banded_cache_equals_the_full_computation() -> None:
    """Step by step with a cache that never holds more than window - 1 steps equals one banded forward pass."""
    model = tiny()
    inputs, cond = _inputs(model, torch.randint(0, 16, (2, 3, 12)), torch.rand(2, 12, 4))
    full, _ = model(inputs, cond)
    caches, outs = None, []
    for s in range(inputs.shape[-1]):
        logits, caches = model(inputs[..., s : s + 1], cond[:, s : s + 1], start=s, caches=caches)
        assert caches[0][0].shape[2] <= TINY.window - 1
        outs.append(logits)
    assert torch.allclose(torch.cat(outs, 2), full, atol=1e-5)


def test_attention_is_banded() -> None:
    """Each layer sees `window` steps back, so a step's logits do not depend on tokens more than
    n_layer * (window - 1) steps back, and do depend on recent ones."""
    model = tiny()
    inputs, cond = _inputs(model, torch.randint(0, 16, (1, 3, 12)), torch.rand(1, 12, 4))
    base, _ = model(inputs, cond)
    far = inputs.clone()
    far[:, :, 0] = (far[:, :, 0] + 1) % 16
    out, _ = model(far, cond)
    reach = TINY.n_layer * (TINY.window - 1)
    assert torch.allclose(out[..., reach + 1 :, :], base[..., reach + 1 :, :], atol=1e-6)
    assert not torch.allclose(out[..., reach, :], base[..., reach, :])


@pytest.mark.parametrize("pattern", ["delay", "parallel"])
def test_recomputing_the_window_equals_the_cache(pattern: str) -> None:
    model = tiny(cfg=SynthformerConfig(**{**TINY.__dict__, "pattern": pattern}))

    def control(f: int) -> dict[str, float]:
        return {"x": f / 30, "y": 0.5}

    a = torch.stack(list(model.frames("b", control, n_frames=20, seed=1)), -1)
    b = torch.stack(list(model.frames("b", control, n_frames=20, seed=1, use_cache=False)), -1)
    assert a.shape == (3, 20) and torch.equal(a, b)
    assert ((a >= 0) & (a < 16)).all()


def test_conditioning_is_learned() -> None:
    """Class a plays code 3, class b code 7 when x is high and 11 when low: a few hundred steps learn it."""
    torch.manual_seed(0)
    model = Synthformer(SynthformerConfig(**{**TINY.__dict__, "n_layer": 1}))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        cls = torch.randint(0, 2, (8,))
        x = torch.rand(8)
        target = torch.where(cls == 0, 3, torch.where(x > 0.5, 7, 11))
        codes = target[:, None, None].expand(8, 3, 10)
        cond = torch.stack([model.condition(int(c), torch.tensor([0.0, float(v)])[[1, 0]].expand(10, 2))
                            for c, v in zip(cls, x)])  # fmt: skip
        loss, _ = model.loss(codes, cond)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert loss < 0.1
    assert (model.generate("a", {"x": np.full(8, 0.9)}, 8, seed=0) == 3).all()
    assert (model.generate("b", {"x": np.full(8, 0.9)}, 8, seed=0) == 7).all()
    assert (model.generate("b", {"x": np.full(8, 0.1)}, 8, seed=0) == 11).all()


def test_token_and_parameter_dropout_act_in_training_only() -> None:
    """Token dropout replaces real input tokens (never the start token), parameter dropout puts the learned null in
    place of every parameter of a window; in eval mode the model sees what it was given."""
    model = tiny(cfg=SynthformerConfig(**{**TINY.__dict__, "token_dropout": 0.5, "param_dropout": 1.0}))
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    forward = model.forward

    def spy(tokens: torch.Tensor, cond: torch.Tensor, *a: object, **k: object) -> object:
        seen.append((tokens.clone(), cond.clone()))
        return forward(tokens, cond, *a, **k)

    model.forward = spy  # type: ignore[method-assign]
    torch.manual_seed(0)
    codes = torch.randint(0, 16, (4, 3, 40))
    cond = model.condition("b", torch.full((40, 2), 0.3))[None].expand(4, -1, -1)
    model.eval()
    model.loss(codes, cond)
    model.train()
    model.loss(codes, cond)
    (clean, c_eval), (noisy, c_train) = seen
    real = clean < 16
    changed = (noisy != clean)[real].float().mean()
    assert 0.35 < changed < 0.55  # half replaced, a sixteenth of them by the same code
    assert torch.equal(noisy[~real], clean[~real])  # start and padding tokens kept
    assert torch.allclose(c_eval[..., 2:], torch.tensor(0.3))
    assert torch.equal(c_train[..., :2], c_eval[..., :2])  # the class stays
    assert torch.allclose(c_train[..., 2:], model.null_params.detach())


def test_guidance() -> None:
    """Guidance 1 is the model alone; the unconditioned branch sets the class's own parameters to the middle of the
    range (a model trained without parameter dropout) or to the learned null; guided play stays in the codebook."""
    model = tiny()

    def control(f: int) -> dict[str, float]:
        return {"x": 0.9}

    plain = torch.stack(list(model.frames("a", control, n_frames=12, seed=3)), -1)
    assert torch.equal(plain, torch.stack(list(model.frames("a", control, n_frames=12, seed=3, guidance=1.0)), -1))
    guided = torch.stack(list(model.frames("a", control, n_frames=12, seed=3, guidance=4.0)), -1)
    assert guided.shape == plain.shape and ((guided >= 0) & (guided < 16)).all()
    c = model.condition("a", {"x": 0.9})
    assert torch.allclose(model.unconditioned(c), torch.tensor([1.0, 0.0, 0.5, 0.0]))  # y is not a's: stays 0
    both = model.condition("b", {"x": 0.9, "y": 0.1})
    assert torch.allclose(model.unconditioned(both), torch.tensor([0.0, 1.0, 0.5, 0.5]))
    nulled = tiny(cfg=SynthformerConfig(**{**TINY.__dict__, "param_dropout": 0.2}))
    assert torch.allclose(nulled.unconditioned(c), torch.tensor([1.0, 0.0, -1.0, -1.0]))
    with pytest.raises(ValueError, match="cache"):
        next(model.frames("a", control, n_frames=4, guidance=2.0, use_cache=False))


def test_fourier_features_of_the_parameters() -> None:
    model = tiny(cfg=SynthformerConfig(**{**TINY.__dict__, "param_features": 3}))
    c = model.condition("b", {"x": 0.25, "y": 0.5})
    f = model.features(c)
    assert f.shape == (2 + 2 + 2 * 3 * 2,) and model.cfg.cond_features == len(f)
    assert torch.equal(f[:4], c)
    angles = torch.tensor([[0.25 * math.pi * 2**j for j in range(3)], [0.5 * math.pi * 2**j for j in range(3)]])
    assert torch.allclose(f[4:10], angles.sin().flatten(), atol=1e-6)  # x then y, each j = 0, 1, 2
    assert torch.allclose(f[10:], angles.cos().flatten(), atol=1e-6)
    assert torch.equal(tiny().features(c), c)


def test_parameters_are_checked() -> None:
    from cadenza.errors import InputError

    model = tiny()
    with pytest.raises(InputError, match="not a parameter of a"):
        model.generate("a", {"y": np.zeros(4)}, 4)
    with pytest.raises(InputError, match="outside the trained range"):
        model.generate("a", {"x": np.full(4, 1.5)}, 4)
    with pytest.raises(InputError, match="not a class"):
        model.generate("c", {}, 4)


def test_curves() -> None:
    name, points = parse_curve("rate=0:0.1,2:0.9", 4.0)
    assert name == "rate" and points == [(0.0, 0.1), (2.0, 0.9)]
    c = curve_frames(points, 5, 1.0)
    assert np.allclose(c, [0.1, 0.5, 0.9, 0.9, 0.9])
    assert parse_curve("rate=0.4", 1.0) == ("rate", [(0.0, 0.4)])
    for bad in ("rate", "rate=0:x", "rate=2:0.1,1:0.2", "rate=0:nan"):
        with pytest.raises(ValueError):
            parse_curve(bad, 4.0)


def test_frame_decoder_equals_decoding_at_once() -> None:
    torch.manual_seed(0)
    codec = Codec(TINY_CODEC).eval()
    codes = torch.randint(0, 16, (1, 4, 37))
    whole = codec.decode(codes)[0, 0].numpy()
    dec = FrameDecoder(codec, chunk=4)
    parts = [dec.push(codes[0, :, i]) for i in range(37)]
    assert sum(len(p) for p in parts) < len(whole)  # held back by the look-ahead until the end
    y = np.concatenate([*parts, dec.flush()])
    assert y.shape == whole.shape
    assert np.abs(y - whole).max() < 1e-4
    assert dec.latency_s == pytest.approx((codec.context_frames() + 4) / codec.frame_rate)


# ------------------------------------------------------------------------------------------------ commands

TINY_ARGS = ["--codebooks", "2", "--layers", "1", "--heads", "2", "--width", "16", "--window", "8",
             "--window-frames", "16", "--batch-size", "4", "--threads", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from cadenza.audio.textures import build_textures

    root = tmp_path_factory.mktemp("sf")
    data = root / "textures"
    build_textures(["rain", "wind"], data, n_clips=10, duration_s=1.5, progress=False)
    torch.manual_seed(0)
    Codec(TINY_CODEC).eval().save_pretrained(root / "codec", card="card")
    out = root / "model"
    p = run("synthformer", "train", "--data", str(data), "--codec", str(root / "codec"), *TINY_ARGS,
            "--steps", "3", "--eval-every", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    return {"root": root, "data": data, "model": out, "codec": root / "codec"}


def test_train_then_play(trained: dict[str, Path]) -> None:
    model = Synthformer.from_pretrained(trained["model"])
    assert model.cfg.classes == ("rain", "wind") and model.cfg.params_of("rain") == ["density"]
    assert "valid_loss" in model.figures and "Synthformer" in (trained["model"] / "card.md").read_text()
    out = trained["root"] / "rain.wav"
    p = run("synthformer", "play", "--model", str(trained["model"]), "--class", "rain",
            "--param", "density=0:0.1,0.5:0.9", "--seconds", "0.5", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    import soundfile as sf

    y, sr = sf.read(out)
    assert sr == 16000 and len(y) == 8000 and np.isfinite(y).all()


def test_fine_tune_with_dropouts_then_play_guided(trained: dict[str, Path]) -> None:
    """--init-from keeps the model's weights and adds the parameters' null; --guidance plays from it; a model of
    other classes is refused (one line, exit 2)."""
    from cadenza.audio.textures import build_textures

    out, root = trained["root"] / "tuned", trained["root"]
    p = run("synthformer", "train", "--data", str(trained["data"]), "--init-from", str(trained["model"]),
            "--token-dropout", "0.3", "--param-dropout", "0.2", "--steps", "1", "--window-frames", "16",
            "--batch-size", "4", "--threads", "1", "--seed", "5", "--param-features", "2",
            "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    start, tuned = Synthformer.from_pretrained(trained["model"]), Synthformer.from_pretrained(out)
    assert tuned.cfg.param_dropout == 0.2 and tuned.cfg.n_embd == start.cfg.n_embd == 16  # the start's shape
    gap = (tuned.state_dict()["head.weight"] - start.state_dict()["head.weight"]).abs().max()
    assert gap < 0.01  # one step from the start's weights (another seed's initial weights are ~0.05 away)
    w = tuned.state_dict()["cond.0.weight"]  # the Fourier features' weights start at zero: one step from there
    assert w.shape[1] == start.cfg.cond_dim + 2 * 2 * 2 and w[:, start.cfg.cond_dim :].abs().max() < 0.01
    p = run("synthformer", "play", "--model", str(out), "--class", "rain", "--param", "density=0.8",
            "--guidance", "3", "--seconds", "0.4", "-o", str(root / "guided.wav"))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert_user_error(run("synthformer", "play", "--model", str(out), "--class", "rain", "--guidance", "0",
                          "-o", str(root / "g0.wav")), "--guidance")  # fmt: skip
    build_textures(["rain"], root / "rain-only", n_clips=4, duration_s=1.5, progress=False)
    assert_user_error(run("synthformer", "train", "--data", str(root / "rain-only"), "--init-from",
                          str(trained["model"]), "--steps", "1", "-o", str(root / "bad")), "other classes")  # fmt: skip
    assert not (root / "bad" / "model.safetensors").exists()


def test_live_mode_reads_stdin_and_streams(trained: dict[str, Path]) -> None:
    """--live -o -: raw float32 on stdout as it plays, reading stdin."""
    proc = subprocess.run([sys.executable, "-m", "cadenza", "synthformer", "play", "--model", str(trained["model"]),
                           "--class", "wind", "--live", "--seconds", "0.5", "-o", "-"],
                          input=b"strength=0.9\n", capture_output=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    y = np.frombuffer(proc.stdout, dtype=np.float32)
    assert len(y) == 8000 and np.isfinite(y).all()
    assert b"latency" in proc.stderr


def test_live_control_moves_parameters() -> None:
    import io

    from cadenza.cli.synthformer import LiveControl

    control = LiveControl(tiny(), "b", {"x": 0.5, "y": 0.5}, stream=io.StringIO("x=0.9\nq=1\ny=7\n\ny = 0.25\n"))
    control.thread.join(timeout=10)
    assert control(0) == {"x": 0.9, "y": 0.25}  # "q" is no parameter and 7 is out of range: both ignored


def test_commands_refuse_bad_input(trained: dict[str, Path]) -> None:
    m, o = str(trained["model"]), str(trained["root"] / "x.wav")
    play = ["synthformer", "play", "--model", m, "-o", o, "--seconds", "0.5"]
    assert_user_error(run(*play, "--class", "thunder"), "thunder", "not a class")
    assert_user_error(run(*play, "--class", "rain", "--param", "speed=0.5"), "speed", "not a parameter of rain")
    assert_user_error(run(*play, "--class", "rain", "--param", "density=0:0.1,1:1.7"), "outside the trained range")
    assert_user_error(run(*play, "--class", "rain", "--param", "density=0:nan"), "finite")
    assert_user_error(run(*play[:-2], "--class", "rain", "-o", "-"), "--live")
    assert not Path(o).exists()
    # the codec changed under the model: its codes mean something else
    torch.manual_seed(1)
    Codec(TINY_CODEC).eval().save_pretrained(trained["codec"], card="card")
    assert_user_error(run(*play, "--class", "rain"), "not the codec this model was trained on")
    assert_user_error(run("synthformer", "train", "--data", str(trained["root"]), *TINY_ARGS, "--steps", "2",
                          "-o", str(trained["root"] / "y")), "not a cadenza dataset")  # fmt: skip
