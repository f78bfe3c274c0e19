"""VampNet: training masks, the masked loss, MaskGIT sampling (known tokens kept, every masked one filled, windows
across a long file), prompts and their errors, a tiny model that learns to inpaint, and the commands (tiny configs,
a tiny random codec)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run

from cadenza.audio.codec import Codec, CodecConfig
from cadenza.audio.vampnet import TUNE_LOW, VampNet, VampNetConfig, dominant_notes, prompt_mask
from cadenza.errors import InputError

TINY = VampNetConfig(n_codebooks=3, cardinality=16, context=20, n_layer=2, n_head=2, n_embd=32, frame_rate=10.0)
TINY_CODEC = CodecConfig(channels=4, decoder_channels=16, latent_dim=8, n_codebooks=4, cardinality=16,
                         strides=(2, 4, 5))  # fmt: skip


def tiny(seed: int = 0, cfg: VampNetConfig = TINY) -> VampNet:
    torch.manual_seed(seed)
    return VampNet(cfg).eval()


def test_training_masks_follow_the_cosine_schedule() -> None:
    model = tiny(cfg=VampNetConfig(**{**TINY.__dict__, "n_conditioning": 1}))
    mask = model.training_mask((4000, 3, 20), torch.Generator().manual_seed(0))
    assert not mask[:, 0].any()  # the conditioning codebook is always given
    assert abs(float(mask[:, 1:].float().mean()) - 2 / np.pi) < 0.02  # E[cos(pi r / 2)] over r ~ U(0, 1)


@pytest.mark.parametrize("embedding", ["learned", "codec"])
def test_masked_tokens_cannot_leak(embedding: str) -> None:
    model = tiny(cfg=VampNetConfig(**{**TINY.__dict__, "embedding": embedding}))
    codes = torch.randint(0, 16, (2, 3, 20))
    mask = torch.rand(2, 3, 20) < 0.5
    other = torch.where(mask, (codes + 1) % 16, codes)  # change only what is masked
    a = model(codes.masked_fill(mask, model.mask_id))
    b = model(other.masked_fill(mask, model.mask_id))
    assert torch.equal(a, b)
    assert torch.isclose(model.loss(codes, mask), model.loss(codes, mask))


def test_the_codec_embedding_reads_the_codecs_code_vectors(tmp_path: Path) -> None:
    torch.manual_seed(0)
    codec = Codec(TINY_CODEC).eval()
    model = tiny(cfg=VampNetConfig(**{**TINY.__dict__, "embedding": "codec", "code_dim": 8}))
    model.use_code_vectors(codec)
    for i in range(3):
        book = codec.quantizer.quantizers[i].codebook.weight
        assert torch.allclose(model.code_vectors[i], book / book.pow(2).mean().sqrt())
    codes = torch.randint(0, 16, (1, 3, 20))
    codes[0, :, 5] = codes[0, :, 9]  # the same frame twice: the same embedding, whatever the position
    e = model.embed_tokens(codes)
    assert torch.equal(e[0, 5], e[0, 9]) and not torch.equal(e[0, 5], e[0, 6])
    masked = model.embed_tokens(codes.masked_fill(torch.ones_like(codes, dtype=torch.bool), model.mask_id))
    assert torch.allclose(masked[0, 0], masked[0, 1])  # every masked frame alike: the mask vectors
    model.save_pretrained(tmp_path / "m", card="card")
    again = VampNet.from_pretrained(tmp_path / "m")
    assert torch.equal(again.code_vectors, model.code_vectors) and torch.equal(again(codes), model(codes))
    with pytest.raises(ValueError, match="embedding"):
        VampNetConfig(embedding="onehot")


@pytest.mark.parametrize("steps", [1, 4, 12])
def test_sampling_keeps_the_prompt_and_fills_the_rest(steps: int) -> None:
    model = tiny()
    codes = torch.randint(0, 16, (1, 3, 20))
    mask = torch.rand(1, 3, 20) < 0.6
    out = model.vamp_window(codes, mask, steps=steps, g=torch.Generator().manual_seed(0))
    assert torch.equal(out[~mask], codes[~mask])
    assert ((out >= 0) & (out < 16)).all()
    again = model.vamp_window(codes, mask, steps=steps, g=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_long_files_vamp_in_overlapping_windows() -> None:
    model = tiny()
    codes = torch.randint(0, 16, (1, 3, 57))
    mask = prompt_mask(["periodic:3"], 57, model.cfg)
    out = model.vamp(codes, mask, steps=3, seed=0)
    assert out.shape == codes.shape and torch.equal(out[~mask], codes[~mask])
    assert (out < 16).all()  # no mask token left anywhere, the last window included
    assert not torch.equal(out, model.vamp(codes, mask, steps=3, seed=1))


def test_coarse_to_fine_keeps_the_coarse_codes_and_the_fine_codes_of_kept_frames() -> None:
    c2f = tiny(cfg=VampNetConfig(**{**TINY.__dict__, "n_conditioning": 1}))
    coarse_cfg = VampNetConfig(**{**TINY.__dict__, "n_codebooks": 1})
    coarse, fine = torch.randint(0, 16, (1, 1, 20)), torch.randint(0, 16, (1, 2, 20))
    mask = prompt_mask(["periodic:4"], 20, coarse_cfg)  # frames 0, 4, 8, ... kept
    out = c2f.refine(coarse, mask, fine, steps=3, seed=0)
    assert out.shape == (1, 3, 20) and torch.equal(out[:, :1], coarse) and (out < 16).all()
    kept = ~mask[0, 0]
    assert torch.equal(out[:, 1:, kept], fine[..., kept])
    assert not torch.equal(out[:, 1:, ~kept], fine[..., ~kept])  # generated, not copied
    everywhere = c2f.refine(coarse, mask, None, steps=3, seed=0)  # no fine codes given: all generated
    assert torch.equal(everywhere[:, :1], coarse) and (everywhere < 16).all()
    with pytest.raises(ValueError, match="coarse-to-fine"):
        tiny().refine(coarse, mask, fine)
    with pytest.raises(ValueError, match=r"\[1, 1, T\]"):
        c2f.refine(torch.randint(0, 16, (1, 2, 20)), mask.expand(1, 2, 20), fine)


def test_a_tiny_model_learns_to_inpaint() -> None:
    """Codes that count up (t + k) mod 16: after a few hundred steps a masked span is filled back exactly."""
    torch.manual_seed(0)
    model = VampNet(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        offset = torch.randint(0, 16, (16, 1, 1))
        codes = (torch.arange(20)[None, None] + torch.arange(3)[None, :, None] + offset) % 16
        loss = model.loss(codes, model.training_mask((16, 3, 20), g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    codes = (torch.arange(20)[None, None] + torch.arange(3)[None, :, None] + 5) % 16
    mask = prompt_mask(["inpaint:0.6s-1.4s"], 20, TINY)
    out = model.vamp_window(codes, mask, steps=8, typical_mass=1.0, mask_temperature=1.0,
                            g=torch.Generator().manual_seed(0))  # fmt: skip
    assert float((out[mask] == codes[mask]).float().mean()) > 0.9


def test_dominant_notes_follow_the_tune() -> None:
    """A harmonic tone (its second partial louder than its first) on A3 then E4, then silence: the fundamental is
    read, the octave kept, and silence is -1."""
    sr, rate = 16000, 50.0
    t = np.arange(sr) / sr
    tones = []
    for midi in (57, 64):
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        tones.append(sum(a * np.sin(2 * np.pi * h * f0 * t) for h, a in ((1, 0.2), (2, 0.3), (3, 0.15), (4, 0.1))))
    audio = np.concatenate([*tones, np.zeros(sr)]).astype(np.float32)
    notes = dominant_notes(audio, sr, rate, n_frames=160)
    assert notes.shape == (160,) and notes.dtype == np.int64
    assert np.mean(notes[5:45] == 57) > 0.95 and np.mean(notes[55:95] == 64) > 0.95
    assert (notes[105:] == -1).all()
    model = VampNet(VampNetConfig(**{**TINY.__dict__, "frame_rate": rate, "tune_bins": 12}))
    tune = model.tune_of(audio, sr, 160)  # what vamp reads: the same notes at the model's frame rate, [1, T]
    assert tune.shape == (1, 160) and torch.equal(tune[0], torch.from_numpy(notes))


def test_a_tiny_model_learns_to_follow_the_tune() -> None:
    """The tune's weights start at zero (a model fine-tuned from one without it starts as that model); codes that
    are a function of the note of their frame, every token masked: only a model that reads the tune fills them."""
    from cadenza.audio.vampnet_train import CodeWindows

    cfg = VampNetConfig(**{**TINY.__dict__, "tune_bins": 12})
    torch.manual_seed(0)
    model = VampNet(cfg)
    codes = torch.randint(0, 16, (2, 3, 20))
    notes = torch.randint(TUNE_LOW, TUNE_LOW + 12, (2, 20))
    assert torch.equal(model(codes, notes), model(codes))

    def make(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        notes = TUNE_LOW + torch.randint(0, 12, (n, 20), generator=g)
        return (notes[:, None] - TUNE_LOW + torch.arange(3)[None, :, None]) % 16, notes

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        c, n = make(16, g)
        loss = model.loss(c, torch.ones_like(c, dtype=torch.bool), n)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    c, n = make(1, g)
    everything = torch.ones_like(c, dtype=torch.bool)
    followed = model.vamp(c, everything, tune=n, steps=4, guidance=0.0, typical_mass=1.0, seed=0)
    assert float((followed == c).float().mean()) > 0.9
    guided = model.vamp(c, everything, tune=n, tune_guidance=3.0, steps=4, guidance=1.0, typical_mass=1.0, seed=0)
    assert float((guided == c).float().mean()) > 0.9
    assert float((model.vamp(c, everything, steps=4, guidance=0.0, seed=0) == c).float().mean()) < 0.5
    with pytest.raises(ValueError, match="one note per frame"):
        model.vamp(c, everything, tune=n[:, :5])
    with pytest.raises(ValueError, match="without the tune"):
        tiny().vamp(c, everything, tune=n)
    # training windows carry the tune's row, dropped (all -1) from a share of them
    clip = np.concatenate([c[0].numpy(), n.numpy()]).astype(np.int16)
    batch = CodeWindows(model, [clip] * 4, 20, 400, tune_dropout=0.3).batch(0)
    assert batch["codes"].shape == (400, 3, 20) and batch["tune"].shape == (400, 20)
    dropped = (batch["tune"] == -1).all(1).float().mean()
    assert 0.2 < float(dropped) < 0.4 and torch.equal(batch["tune"][~(batch["tune"] == -1).all(1)][0], n[0])


def test_prompts() -> None:
    cfg = VampNetConfig(**{**TINY.__dict__, "n_conditioning": 0})
    m = prompt_mask(["periodic:5"], 20, cfg)[0]
    assert (~m[:, ::5]).all() and m[:, 1:5].all()
    m = prompt_mask(["continue:1s"], 20, cfg)[0]  # 10 frames/s
    assert (~m[:, :10]).all() and m[:, 10:].all()
    m = prompt_mask(["suffix:0.5s"], 20, cfg)[0]
    assert m[:, :15].all() and (~m[:, 15:]).all()
    m = prompt_mask(["inpaint:0.5s-1s"], 20, cfg)[0]
    assert m[:, 5:10].all() and (~m[:, :5]).all() and (~m[:, 10:]).all()
    m = prompt_mask(["codebooks:1"], 20, cfg)[0]
    assert (~m[0]).all() and m[1:].all()
    m = prompt_mask(["codebooks:1", "periodic:4"], 20, cfg)[0]  # what any prompt keeps is kept
    assert (~m[0]).all() and (~m[:, ::4]).all() and m[1:, 1:4].all()
    m = prompt_mask(["beat"], 20, cfg, beats=np.array([0.5, 1.2]))[0]
    assert (~m[:, 4:7]).all() and (~m[:, 11:14]).all() and m[:, 8].all()


@pytest.mark.parametrize(("prompts", "fragment"), [
    (["zigzag"], "unknown prompt"),
    (["periodic:0"], "periodic needs"),
    (["continue:3s"], "not shorter than the file"),
    (["inpaint:1s-3s"], "not inside the file"),
    (["inpaint:1s"], "needs a span"),
    (["codebooks:3"], "codebooks needs"),
    (["periodic:1"], "nothing is left to generate"),
    (["inpaint:0s-2s"], "keeps no token"),
    (["beat"], "no beats"),
])  # fmt: skip
def test_bad_prompts(prompts: list[str], fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        prompt_mask(prompts, 20, TINY)


# ------------------------------------------------------------------------------------------------ commands

TINY_ARGS = ["--codebooks", "2", "--layers", "1", "--heads", "2", "--width", "16", "--context", "16",
             "--batch-size", "2", "--threads", "1"]  # fmt: skip


def _tone_folder(folder: Path, n: int = 4, seconds: float = 2.0) -> Path:
    import soundfile as sf

    folder.mkdir(parents=True)
    t = np.arange(round(seconds * 16000)) / 16000
    for i in range(n):
        sf.write(folder / f"tone{i}.wav", (0.3 * np.sin(2 * np.pi * (220 + 55 * i) * t)).astype(np.float32), 16000)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vn")
    data = _tone_folder(root / "tones")
    torch.manual_seed(0)
    Codec(TINY_CODEC).eval().save_pretrained(root / "codec", card="card")
    out = root / "model"
    p = run("vampnet", "train", "--data", str(data), "--codec", str(root / "codec"), *TINY_ARGS,
            "--steps", "3", "--eval-every", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    return {"root": root, "data": data, "model": out, "codec": root / "codec"}


def test_train_vamp_and_fine_tune(trained: dict[str, Path]) -> None:
    import soundfile as sf

    model = VampNet.from_pretrained(trained["model"])
    assert model.cfg.n_codebooks == 2 and "valid_loss" in model.figures
    assert model.cfg.embedding == "codec" and model.code_vectors.abs().sum() > 0  # the default: the codec's vectors
    per_codebook = [model.figures[f"valid_loss_mask_0.6_cb{k}"] for k in range(2)]  # the total is their mix
    assert min(per_codebook) <= model.figures["valid_loss_mask_0.6"] <= max(per_codebook)
    assert "VampNet" in (trained["model"] / "card.md").read_text()
    wav = trained["data"] / "tone1.wav"
    for prompt in (["periodic:3"], ["inpaint:0.5s-1s"], ["continue:1s", "codebooks:1"]):
        out = trained["root"] / "out.wav"
        args = [a for p in prompt for a in ("--prompt", p)]
        p = run("vampnet", "vamp", str(wav), "--model", str(trained["model"]), *args, "--steps", "2", "-o", str(out))
        assert p.returncode == 0, p.stderr
        y, sr = sf.read(out)
        assert sr == 16000 and len(y) == 32000 and np.isfinite(y).all()
    p = run("vampnet", "vamp", str(wav), "--model", str(trained["model"]), "--loop", "2", "--steps", "2",
            "-o", str(trained["root"] / "loop.wav"))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert len(sf.read(trained["root"] / "loop.wav")[0]) == 64000
    # codes in, codes out; codes of another codec refused
    codes, vamped = str(trained["root"] / "t.codes"), str(trained["root"] / "v.codes")
    assert run("codec", "encode", str(wav), "--model", str(trained["codec"]), "-o", codes).returncode == 0
    p = run("vampnet", "vamp", codes, "--model", str(trained["model"]), "--steps", "2", "-o", vamped)
    assert p.returncode == 0, p.stderr
    from cadenza.audio.codec_train import read_codes

    out_codes, n_samples = read_codes(vamped, Codec.from_pretrained(trained["codec"]))
    assert out_codes.shape[1] == 2 and n_samples == 32000
    torch.manual_seed(5)
    Codec(TINY_CODEC).eval().save_pretrained(trained["root"] / "other", card="card")
    other = str(trained["root"] / "o.codes")
    assert run("codec", "encode", str(wav), "--model", str(trained["root"] / "other"), "-o", other).returncode == 0
    assert_user_error(run("vampnet", "vamp", other, "--model", str(trained["model"]), "-o", o := vamped + ".x"),
                      "o.codes", "codes from another model")  # fmt: skip
    assert not Path(o).exists()
    p = run("vampnet", "train", "--data", str(trained["data"]), "--init-from", str(trained["model"]), "--steps", "2",
            "--threads", "1", "--batch-size", "2", "-o", str(trained["root"] / "tuned"))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "fine-tuned from" in (trained["root"] / "tuned" / "card.md").read_text()
    p = run("vampnet", "train", "--data", str(trained["data"]), "--codec", str(trained["codec"]), *TINY_ARGS,
            "--embedding", "learned", "--steps", "2", "-o", str(trained["root"] / "by-table"))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert VampNet.from_pretrained(trained["root"] / "by-table").cfg.embedding == "learned"


def test_fine_tune_with_the_tune_and_keep_it(trained: dict[str, Path]) -> None:
    import soundfile as sf

    tuned, wav, out = trained["root"] / "tune", str(trained["data"] / "tone3.wav"), trained["root"] / "kept.wav"
    assert_user_error(run("vampnet", "vamp", wav, "--model", str(trained["model"]), "--follow-tune", "-o", str(out)),
                      "trained without the tune")  # fmt: skip
    assert not out.exists()
    p = run("vampnet", "train", "--data", str(trained["data"]), "--init-from", str(trained["model"]), "--tune",
            "--steps", "2", "--threads", "1", "--batch-size", "2", "-o", str(tuned))  # fmt: skip
    assert p.returncode == 0, p.stderr
    model = VampNet.from_pretrained(tuned)
    assert model.cfg.tune_bins == 73 and "valid_loss_no_tune" in model.figures
    assert_user_error(run("vampnet", "vamp", wav, "--model", str(tuned), "--follow-tune", "-1", "-o", str(out)),
                      "--follow-tune", ">= 0")  # fmt: skip
    p = run("vampnet", "vamp", wav, "--model", str(tuned), "--follow-tune", "--steps", "2", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "following the input's tune" in p.stdout
    y, sr = sf.read(out)
    assert sr == 16000 and len(y) == 32000 and np.isfinite(y).all()


def test_vamp_with_a_coarse_to_fine_model(trained: dict[str, Path]) -> None:
    import soundfile as sf

    c2f = trained["root"] / "c2f"
    args = [a if a != "2" or i != 1 else "4" for i, a in enumerate(TINY_ARGS)]  # 4 codebooks, the first 2 given
    p = run("vampnet", "train", "--data", str(trained["data"]), "--codec", str(trained["codec"]), *args,
            "--conditioning", "2", "--steps", "2", "-o", str(c2f))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert VampNet.from_pretrained(c2f).cfg.n_conditioning == 2
    wav, out = str(trained["data"] / "tone2.wav"), trained["root"] / "c2f.wav"
    p = run("vampnet", "vamp", wav, "--model", str(trained["model"]), "--c2f", str(c2f), "--steps", "2",
            "--c2f-steps", "2", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "2 finer codebooks" in p.stdout
    y, sr = sf.read(out)
    assert sr == 16000 and len(y) == 32000 and np.isfinite(y).all()
    m = str(trained["model"])
    assert_user_error(run("vampnet", "vamp", wav, "--model", m, "--c2f", m, "-o", str(o := trained["root"] / "n.wav")),
                      "is a coarse model")  # fmt: skip
    assert_user_error(run("vampnet", "vamp", wav, "--model", m, "--c2f", str(c2f), "--c2f-steps", "0", "-o", str(o)),
                      "--c2f-steps")  # fmt: skip
    assert not o.exists()


def test_commands_refuse_bad_input(trained: dict[str, Path]) -> None:
    import soundfile as sf

    m, o = str(trained["model"]), str(trained["root"] / "x.wav")
    wav = str(trained["data"] / "tone0.wav")
    assert_user_error(run("vampnet", "vamp", wav, "--model", m, "--prompt", "inpaint:1s-9s", "-o", o),
                      "inpaint:1s-9s", "not inside the file")  # fmt: skip
    assert_user_error(run("vampnet", "vamp", wav, "--model", m, "--prompt", "periodic:1", "-o", o), "nothing is left")
    nan = np.zeros(16000, np.float32)
    nan[10] = np.nan
    sf.write(trained["root"] / "nan.wav", nan, 16000, subtype="FLOAT")
    assert_user_error(run("vampnet", "vamp", str(trained["root"] / "nan.wav"), "--model", m, "-o", o), "nan.wav", "NaN")
    sf.write(trained["root"] / "short.wav", np.zeros(800, np.float32), 16000)
    assert_user_error(run("vampnet", "vamp", str(trained["root"] / "short.wav"), "--model", m, "-o", o), "0.5 s")
    assert not Path(o).exists()
    short = _tone_folder(trained["root"] / "few", n=2, seconds=0.3)
    assert_user_error(run("vampnet", "train", "--data", str(short), "--codec", str(trained["codec"]), *TINY_ARGS,
                          "--steps", "2", "-o", str(trained["root"] / "y")), "too little")  # fmt: skip
    assert_user_error(run("vampnet", "train", "--data", str(trained["data"]), "--codec", str(trained["codec"]),
                          *TINY_ARGS, "--dropout", "1", "-o", str(trained["root"] / "y")),
                      "dropout must be in [0, 1)")  # fmt: skip
    torch.manual_seed(1)
    Codec(TINY_CODEC).eval().save_pretrained(trained["codec"], card="card")
    assert_user_error(run("vampnet", "vamp", wav, "--model", m, "-o", o), "not the codec this model was trained on")
