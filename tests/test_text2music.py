"""Text-to-music: the conditioned decoder (cache, prefix, guidance, melody), its data and its commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run

from cadenza.audio.codec import Codec, CodecConfig
from cadenza.audio.text2music import (
    Text2Music,
    Text2MusicConfig,
    TextCondition,
    chroma_onehot,
    encode_text,
    melody_bins,
)
from cadenza.errors import InputError

TINY = Text2MusicConfig(n_codebooks=3, cardinality=16, n_layer=2, n_head=2, n_embd=32, window=6, dropout=0.0)
TINY_CODEC = CodecConfig(channels=4, decoder_channels=16, latent_dim=8, n_codebooks=4, cardinality=16,
                         strides=(2, 4, 5))  # fmt: skip


def tiny(seed: int = 0) -> Text2Music:
    torch.manual_seed(seed)
    return Text2Music(TINY).eval()


@pytest.fixture(scope="module")
def prompts() -> TextCondition:
    return encode_text(["a slow cello melody in D minor", "a fast piano piece"], TINY.max_text_tokens)[0]


def test_text_encoding_and_truncation() -> None:
    text, cut = encode_text(["a flute", "word " * 100], max_tokens=16)
    assert text.tokens.shape == (2, 16, 384) and text.mask.shape == (2, 16)
    assert cut == [False, True]
    assert int(text.mask[0].sum()) < 16  # the short prompt is padded, and the padding masked
    assert torch.allclose(text.pooled.norm(dim=1), torch.ones(2), atol=1e-4)
    dropped = text.dropped(torch.tensor([True, False]))
    assert not dropped.mask[0].any() and dropped.mask[1].all() and float(dropped.pooled[0].abs().sum()) == 0


def test_loss_learns_the_prompt(prompts: TextCondition) -> None:
    """Two prompts, two fixed code sequences: a few steps of training tell them apart by the prompt alone."""
    model = tiny()
    model.train()
    codes = torch.stack([torch.arange(12).repeat(3, 1) % 16, (15 - torch.arange(12)).repeat(3, 1) % 16])
    chroma = torch.zeros(2, 12, 13)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = float(model.loss(codes, prompts, chroma)[0].detach())
    for _ in range(80):
        opt.zero_grad()
        loss, per = model.loss(codes, prompts, chroma)
        loss.backward()
        opt.step()
    model.eval()
    assert per.shape == (3,)
    assert float(model.loss(codes, prompts, chroma)[0]) < 0.3 * first
    for i in range(2):  # each prompt, decoded greedily, plays its own sequence from the first frame
        one = TextCondition(prompts.tokens[i : i + 1], prompts.mask[i : i + 1], prompts.pooled[i : i + 1])
        assert torch.equal(model.generate(one, 12, guidance=1.0, top_k=1)[0], codes[i])


def test_cache_equals_recomputing_the_window(prompts: TextCondition) -> None:
    model = tiny(1)
    one = TextCondition(prompts.tokens[:1], prompts.mask[:1], prompts.pooled[:1])
    melody = np.arange(20) % 12
    for guidance in (1.0, 3.0):  # 20 frames + 2 delay steps: past the 6-step band
        a = model.generate(one, 20, melody=melody, guidance=guidance, seed=3)
        b = model.generate(one, 20, melody=melody, guidance=guidance, seed=3, use_cache=False)
        assert a.shape == (1, 3, 20) and torch.equal(a, b)
        assert int(a.max()) < 16  # never the pad or start token


def test_prefix_is_kept_and_guidance_matters(prompts: TextCondition) -> None:
    model = tiny(2)
    one = TextCondition(prompts.tokens[:1], prompts.mask[:1], prompts.pooled[:1])
    prefix = torch.randint(0, 16, (3, 7))
    out = model.generate(one, 15, prefix=prefix, seed=0)
    assert torch.equal(out[0, :, :7], prefix)
    a, b = (model.generate(one, 15, guidance=g, seed=0) for g in (1.0, 5.0))
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="not shorter"):
        model.generate(one, 7, prefix=prefix)
    with pytest.raises(InputError, match="empty"):
        model.text("   ")


def test_melody_bins_find_the_pitch_class() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    tone = np.concatenate([0.3 * np.sin(2 * np.pi * 440 * t), np.zeros(sr // 2), 0.3 * np.sin(2 * np.pi * 261.63 * t)])
    bins = melody_bins(tone.astype(np.float32), sr, 50.0)
    assert np.mean(bins[5:45] == 9) > 0.9  # A
    assert np.mean(bins[60:70] == -1) > 0.9  # silence
    assert np.mean(bins[85:120] == 0) > 0.9  # C
    onehot = chroma_onehot(np.array([9, -1]))
    assert onehot[0, 9] == 1 and onehot[0, 12] == 1 and float(onehot[1].sum()) == 0


def test_default_verb() -> None:
    from cadenza.cli import with_default_verb

    assert with_default_verb(["text2music", "a waltz", "-o", "x.wav"])[:3] == ["text2music", "generate", "a waltz"]
    assert with_default_verb(["text2music", "train", "--data", "d"])[1] == "train"
    assert with_default_verb(["text2music", "--help"]) == ["text2music", "--help"]
    assert with_default_verb(["codec", "encode"]) == ["codec", "encode"]


# ------------------------------------------------------------------------------------------------ commands

TINY_ARGS = ["--codebooks", "2", "--layers", "1", "--heads", "2", "--width", "16", "--window", "8",
             "--window-frames", "16", "--batch-size", "4", "--threads", "1"]  # fmt: skip


def caption_folder(root: Path) -> tuple[Path, Path]:
    """A user's folder of 12 captioned sine tones (captions.jsonl), and a tiny codec: (data, codec)."""
    import soundfile as sf

    data = root / "mine"
    data.mkdir()
    sr, lines = 16000, []
    for i, (f0, word) in enumerate([(220, "low"), (440, "middle"), (880, "high")] * 4):
        t = np.arange(int(1.2 * sr)) / sr
        sf.write(data / f"{i}.wav", (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), sr)
        lines.append(json.dumps({"file": f"{i}.wav", "caption": f"a {word} sine tone"}))
    (data / "captions.jsonl").write_text("\n".join(lines) + "\n")
    torch.manual_seed(0)
    Codec(TINY_CODEC).eval().save_pretrained(root / "codec", card="card")
    return data, root / "codec"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("t2m")
    data, _ = caption_folder(root)
    out = root / "model"
    p = run("text2music", "train", "--data", str(data), "--codec", str(root / "codec"), *TINY_ARGS,
            "--steps", "3", "--eval-every", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    return {"root": root, "data": data, "model": out, "codec": root / "codec"}


def test_train_then_generate(trained: dict[str, Path]) -> None:
    import soundfile as sf

    model = Text2Music.from_pretrained(trained["model"])
    assert model.cfg.n_codebooks == 2 and "valid_loss_shuffled_text" in model.figures
    assert "MusicGen" in (trained["model"] / "card.md").read_text()
    out = trained["root"] / "tone.wav"
    melody = trained["data"] / "1.wav"
    p = run("text2music", "a high sine tone", "--model", str(trained["model"]), "--seconds", "0.5",
            "--melody", str(melody), "--guidance", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    y, sr = sf.read(out)
    assert sr == 16000 and len(y) == 8000 and np.isfinite(y).all()
    p = run("text2music", "generate", "a low sine tone", "--model", str(trained["model"]), "--seconds", "1",
            "--continue", str(melody), "-o", str(out))  # fmt: skip
    assert_user_error(p, "--seconds", "not longer than")
    p = run("text2music", "a low sine tone", "--model", str(trained["model"]), "--seconds", "2",
            "--continue", str(melody), "-o", str(out))  # fmt: skip
    assert p.returncode == 0 and "continuing" in p.stdout, p.stderr


def test_fine_tune_resumes_from_a_model(trained: dict[str, Path]) -> None:
    out = trained["root"] / "tuned"
    p = run("text2music", "train", "--data", str(trained["data"]), "--init-from", str(trained["model"]),
            "--window-frames", "16", "--batch-size", "2", "--threads", "1", "--steps", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert Text2Music.from_pretrained(out).cfg == Text2Music.from_pretrained(trained["model"]).cfg


def test_commands_refuse_bad_input(trained: dict[str, Path], tmp_path: Path) -> None:
    m, o = str(trained["model"]), str(tmp_path / "x.wav")
    gen = ["text2music", "--model", m, "-o", o, "--seconds", "0.5"]
    assert_user_error(run("text2music", "  ", "--model", m, "-o", o), "prompt", "empty")
    assert_user_error(run("text2music", "a tone", "--model", m, "-o", o, "--seconds", "900"), "--seconds")
    bad = tmp_path / "tune.mid"
    bad.write_bytes(b"not a midi file")
    assert_user_error(run("text2music", "a tone", "--melody", str(bad), *gen[1:]), "tune.mid")
    assert not Path(o).exists()
    assert_user_error(run("text2music", "train", "--data", str(tmp_path), *TINY_ARGS, "--steps", "2",
                          "-o", str(tmp_path / "y")), "captions.jsonl")  # fmt: skip
    (tmp_path / "captions.jsonl").write_text('{"file": "missing.wav", "caption": "x"}\n')
    assert_user_error(run("text2music", "train", "--data", str(tmp_path), *TINY_ARGS, "--steps", "2",
                          "-o", str(tmp_path / "y")), "missing.wav")  # fmt: skip
