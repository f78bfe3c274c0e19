"""Text-to-music: the conditioned decoder (cache, prefix, guidance, melody), its data and its commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run

from cadenza.audio.codec import Codec, CodecConfig
from cadenza.audio.text2music import (
    Text2Music,
    Text2MusicConfig,
    TextCondition,
    beat_clock,
    beat_features,
    chroma_onehot,
    encode_text,
    melody_bins,
    prompt_attributes,
    prompt_bpm,
    tracked_beat_phase,
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
        one = prompts.row(i)
        assert torch.equal(model.generate(one, 12, guidance=1.0, top_k=1)[0], codes[i])


def test_cache_equals_recomputing_the_window(prompts: TextCondition) -> None:
    model = tiny(1)
    one = prompts.row(0)
    melody = np.arange(20) % 12
    for guidance in (1.0, 3.0):  # 20 frames + 2 delay steps: past the 6-step band
        a = model.generate(one, 20, melody=melody, guidance=guidance, seed=3)
        b = model.generate(one, 20, melody=melody, guidance=guidance, seed=3, use_cache=False)
        assert a.shape == (1, 3, 20) and torch.equal(a, b)
        assert int(a.max()) < 16  # never the pad or start token


def test_prefix_is_kept_and_guidance_matters(prompts: TextCondition) -> None:
    model = tiny(2)
    one = prompts.row(0)
    prefix = torch.randint(0, 16, (3, 7))
    out = model.generate(one, 15, prefix=prefix, seed=0)
    assert torch.equal(out[0, :, :7], prefix)
    a, b = (model.generate(one, 15, guidance=g, seed=0) for g in (1.0, 5.0))
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="not shorter"):
        model.generate(one, 7, prefix=prefix)
    with pytest.raises(InputError, match="empty"):
        model.text("   ")


def test_prompt_attributes_read_tempo_and_key() -> None:
    def read(text: str) -> tuple[int | None, bool, int | None, int | None]:
        """(tempo word index, bpm stated, tonic, minor) of a prompt."""
        v = prompt_attributes(text)
        word = int(v[:4].argmax()) if v[:4].any() else None
        tonic = int(v[13:25].argmax()) if v[13:25].any() else None
        return word, bool(v[4]), tonic, int(v[26]) if v[25:27].any() else None

    assert read("a slow cello melody in D minor") == (0, False, 2, 1)
    assert read("violin music at 72 bpm in Bb major") == (None, True, 10, 0)
    assert read("Presto, F sharp Minor") == (3, False, 6, 1)
    assert read("an adagio in C-sharp minor") == (0, False, 1, 1)
    assert read("played moderately loud, in a minor key") == (None, False, None, None)  # no tempo, no key
    assert not prompt_attributes("").any()
    a, b, c = (prompt_attributes(f"a tune, {bpm} bpm")[5:13] for bpm in (72, 76, 140))
    assert 0 < np.linalg.norm(a - b) < np.linalg.norm(a - c)  # nearby tempi are near, and still told apart


def test_captions_state_the_facts_the_attributes_read() -> None:
    """Every wording of a rendered clip's caption that names its tempo or key is read back as that tempo and key."""
    from cadenza.audio.captions import all_captions

    entry = {"instrument": "Violin", "program": 40, "tempo_bpm": 131.6, "key": "Eb minor", "meter": "6/8",
             "velocity": 80, "mean_pitch": 70.0, "n_parts": 1}  # fmt: skip
    bpm = prompt_attributes("132 bpm")[4:13]
    for text in all_captions(entry):
        v = prompt_attributes(text)
        if "lively" in text:
            assert v[2] == 1 and v[:4].sum() == 1, text
        if "bpm" in text:
            assert np.allclose(v[4:13], bpm), text
        if "minor" in text:
            assert v[13 + 3] == 1 and v[26] == 1 and v[13:27].sum() == 2, text


def test_attributes_start_where_the_model_was_and_then_learn(prompts: TextCondition) -> None:
    """A model given the attribute layer on top of trained weights starts with the same loss (zero layer), and its
    gradient reaches the layer; the encoded prompts carry the attributes and dropping a prompt drops them."""
    from dataclasses import replace

    plain = tiny(4)
    reads = Text2Music(replace(TINY, attributes=True)).eval()
    missing, unexpected = reads.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["attrs.weight"] and not unexpected
    codes = torch.randint(0, 16, (2, 3, 10))
    chroma = torch.zeros(2, 10, 13)
    assert torch.allclose(plain.loss(codes, prompts, chroma)[0], reads.loss(codes, prompts, chroma)[0])
    reads.loss(codes, prompts, chroma)[0].backward()
    assert reads.attrs is not None and reads.attrs.weight.grad is not None
    assert float(reads.attrs.weight.grad.abs().sum()) > 0
    assert prompts.attrs is not None and prompts.attrs[0, 0] == 1 and prompts.attrs[1, 3] == 1  # slow, fast
    dropped = prompts.dropped(torch.tensor([True, False]))
    assert dropped.attrs is not None and not dropped.attrs[0].any() and dropped.attrs[1].any()
    with pytest.raises(ValueError, match="encode_text"):
        reads.prepare(TextCondition(prompts.tokens, prompts.mask, prompts.pooled))
    with torch.no_grad():
        reads.attrs.weight.normal_()
    slow, fast = (reads.generate(prompts.row(i), 8, guidance=3.0, seed=0) for i in range(2))  # guided: attributes kept
    assert slow.shape == fast.shape == (1, 3, 8)
    same_words = prompts.row(0)._replace(attrs=prompts.attrs[1:])  # the first prompt's words, the second's tempo
    assert not torch.equal(reads.generate(same_words, 8, guidance=3.0, seed=0), slow)


def test_beat_clock_from_the_prompt_and_from_a_recording() -> None:
    assert prompt_bpm("violin music at 72 bpm, slow") == 72.0 and prompt_bpm("a slow air") == 64.0
    assert prompt_bpm("a cello melody in D minor") is None
    clock = beat_clock(120.0, 100, 50.0)  # a beat every 25 frames
    assert clock[0] == 0 and clock[25] == 0 and abs(clock[10] - 0.4) < 1e-9
    f = beat_features(np.array([0.0, 0.25, np.nan]))
    assert np.allclose(f[0], [0, 1, 1]) and np.allclose(f[1], [1, 0, 1], atol=1e-6) and not f[2].any()
    sr, bpm = 16000, 90.0  # clicks at 90 bpm from 0.3 s: the tracked phase is near 0 at each click
    y = np.zeros(8 * sr, np.float32)
    clicks = 0.3 + np.arange(11) * 60 / bpm
    for t in clicks:
        i = int(t * sr)
        y[i : i + 400] = np.random.default_rng(0).normal(0, 0.5, 400) * np.exp(-np.arange(400) / 80)
    phase = tracked_beat_phase(y, sr, bpm, 50.0, 400)
    at_clicks = phase[np.round(clicks * 50).astype(int)]
    assert np.all(np.minimum(at_clicks, 1 - at_clicks) < 0.1), at_clicks


def test_beat_clock_in_batches_and_sampling(prompts: TextCondition) -> None:
    """Training gives the clock only where the caption states a tempo and the prompt is kept; a model with a beat
    layer plays differently at another tempo of the same words."""
    from dataclasses import replace

    from cadenza.audio.text2music_train import MusicClip, make_batch

    model = Text2Music(replace(TINY, beat=True)).eval()
    clip = MusicClip(np.zeros((3, 40), np.int16), np.full(40, -1, np.int8), {}, beat_clock(150.0, 40, 50.0))
    caps = ["a slow cello melody", "a cello melody", "a fast cello melody"]
    b = make_batch(model, [clip], [(0, 0), (0, 5), (0, 10)], 20, caps, np.array([False, False, True]),
                   np.ones(3, bool))  # fmt: skip
    assert b["chroma"].shape == (3, 20, 16)
    assert b["chroma"][0, :, 15].all() and not b["chroma"][1:, :, 13:].any()  # no tempo word / prompt dropped
    caps = ["a cello melody at 150 bpm"] * 3  # the clock dropped on its own: the words stay
    b = make_batch(model, [clip], [(0, 0), (0, 5), (0, 10)], 20, caps, np.zeros(3, bool), np.ones(3, bool),
                   drop_beat=np.array([False, True, False]))  # fmt: skip
    assert b["chroma"][[0, 2], :, 15].all() and not b["chroma"][1, :, 13:].any()
    assert torch.equal(b["text"].pooled[0], b["text"].pooled[1]) and b["text"].pooled[1].abs().sum() > 0
    with pytest.raises(ValueError, match="beat_dropout"):
        replace(TINY, beat_dropout=1.0)
    from cadenza.audio.text2music_train import CaptionBatches

    clip.entry = {"caption": "a cello melody at 150 bpm"}
    seen: list[dict[str, Any]] = []
    for rate in (0.0, 0.5):  # the batches draw the clock's own dropout at the config's rate, and only then
        m = Text2Music(replace(TINY, beat=True, beat_dropout=rate))
        CaptionBatches(m, [clip], 20, 64, make=lambda *a, **kw: seen.append(kw)).batch(0)
    assert seen[0] == {} and 10 < int(seen[1]["drop_beat"].sum()) < 54
    with torch.no_grad():
        model.beat.weight.normal_()  # type: ignore[union-attr]
    one = prompts.row(0)
    slow, fast = (model.generate(one, 12, guidance=3.0, seed=0, bpm=bpm) for bpm in (60.0, 150.0))
    assert not torch.equal(slow, fast)
    assert torch.equal(model.generate(one, 12, guidance=3.0, seed=0), model.generate(one, 12, guidance=3.0, seed=0))
    # the clock's own guidance: a third branch only where it differs and a clock is given
    same = model.generate(one, 12, guidance=3.0, seed=0, bpm=150.0, beat_guidance=3.0)
    assert torch.equal(same, fast)
    assert not torch.equal(model.generate(one, 12, guidance=3.0, seed=0, bpm=150.0, beat_guidance=8.0), fast)
    unclocked = model.generate(one, 12, guidance=3.0, seed=0)
    assert torch.equal(model.generate(one, 12, guidance=3.0, seed=0, beat_guidance=8.0), unclocked)


def test_guided_scores_apply_the_clock_to_the_codebooks_asked() -> None:
    from cadenza.audio.text2music import guided_scores

    last = torch.randn(3, 4, 10, generator=torch.Generator().manual_seed(0))  # [clocked, unconditional, unclocked]
    c, u, nc = last
    two = u + 3.0 * (c - u)
    assert torch.allclose(guided_scores(last[:2], 3.0), two)
    three = u + 3.0 * (nc - u) + 8.0 * (c - nc)
    assert torch.allclose(guided_scores(last, 3.0, 8.0), three)
    part = guided_scores(last, 3.0, 8.0, beat_codebooks=1)
    assert torch.allclose(part[:1], three[:1]) and torch.allclose(part[1:], two[1:])
    assert torch.allclose(guided_scores(last, 3.0, 3.0), two)  # one coefficient: the two-branch scores


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
    out = trained["root"] / "tuned-attributes"  # learning to read tempo and key, from a model that did not
    p = run("text2music", "train", "--data", str(trained["data"]), "--init-from", str(trained["model"]),
            "--attributes", "--window-frames", "16", "--batch-size", "2", "--threads", "1", "--steps", "2",
            "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    tuned = Text2Music.from_pretrained(out)
    assert tuned.cfg.attributes and "valid_loss_no_attributes" in tuned.figures
    assert "Tempo and key are also read" in (out / "card.md").read_text()
    out = trained["root"] / "tuned-beat"  # and a beat clock (the captions file states no tempo: never given)
    p = run("text2music", "train", "--data", str(trained["data"]), "--init-from", str(trained["model"]),
            "--beat", "--window-frames", "16", "--batch-size", "2", "--threads", "1", "--steps", "2",
            "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert Text2Music.from_pretrained(out).cfg.beat and "valid_loss_no_beat" in Text2Music.from_pretrained(out).figures
    p = run("text2music", "train", "--data", str(trained["data"]), "--init-from", str(out), "--beat-dropout", "0.3",
            "--window-frames", "16", "--batch-size", "2", "--threads", "1", "--steps", "2",
            "-o", str(trained["root"] / "tuned-beat-drop"))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert Text2Music.from_pretrained(trained["root"] / "tuned-beat-drop").cfg.beat_dropout == 0.3
    assert "on its own on 30% of the windows" in (trained["root"] / "tuned-beat-drop" / "card.md").read_text()
    p = run("text2music", "a high sine tone at 90 bpm", "--model", str(out), "--seconds", "0.5",
            "--beat-guidance", "8", "-o", str(trained["root"] / "beat.wav"))  # fmt: skip
    assert p.returncode == 0 and "a beat clock at 90 bpm guided at 8 on the first codebook" in p.stdout, p.stderr
    p = run("text2music", "a high sine tone at 90 bpm", "--model", str(out), "--seconds", "0.5",
            "--beat-guidance", "8", "--beat-codebooks", "0", "-o", str(trained["root"] / "beat2.wav"))  # fmt: skip
    assert_user_error(p, "--beat-codebooks", ">= 1")
    p = run("text2music", "a high sine tone at 90 bpm", "--model", str(out), "--seconds", "0.5",
            "--beat-guidance", "-1", "-o", str(trained["root"] / "beat2.wav"))  # fmt: skip
    assert_user_error(p, "--beat-guidance", ">= 0")
    assert not (trained["root"] / "beat2.wav").exists()


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
