"""Evaluating generated audio: golden values of the metrics, captions that tell the truth, the CLAP model and the
sound classifier learn, and `cadenza eval audio` as a user meets it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.test_cli import assert_user_error, run

from cadenza.audio.audio_tower import AudioTowerConfig
from cadenza.audio.captions import all_captions, canonical_caption, caption, facts
from cadenza.core.audio import AudioClip
from cadenza.evaluate import audio_metrics as am
from cadenza.io.audio import write_audio

TINY_TOWER = AudioTowerConfig(channels=(16, 16), width=32, window_s=0.5, n_mels=32)


# ------------------------------------------------------------------------------------------------ metrics


def test_frechet_distance_of_gaussians_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = np.diag(rng.uniform(0.5, 2, 5)), np.diag(rng.uniform(0.5, 2, 5))
    closed = ((mu1 - mu2) ** 2).sum() + (np.diag(s1) + np.diag(s2) - 2 * np.sqrt(np.diag(s1) * np.diag(s2))).sum()
    assert am.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(closed, rel=1e-9)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))  # rotated: S1, S2 no longer diagonal, the distance is the same
    assert am.frechet_distance(q @ mu1, q @ s1 @ q.T, q @ mu2, q @ s2 @ q.T) == pytest.approx(closed, rel=1e-6)
    assert am.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-9)


def test_fad_kad_and_fad_inf_on_samples() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(4000, 4))
    same = rng.normal(size=(400, 4))
    moved = rng.normal(size=(400, 4)) + np.array([1.0, 0, 0, 0])
    assert am.fad(same, ref) < 0.1 < 0.9 < am.fad(moved, ref) < 1.2  # the true distances: 0 and 1
    assert abs(am.kad(same, ref)) < 2.0 < am.kad(moved, ref)  # KAD (x1000) of one distribution is near 0
    # in 16 dimensions, 300 clips overstate a true FAD of 0.25 about twofold; FAD-inf extrapolates the bias away
    wide_ref = rng.normal(size=(20000, 16))
    gen = rng.normal(size=(300, 16)) + np.r_[0.5, np.zeros(15)]
    inf = am.fad_inf(gen, wide_ref, rng=rng)
    assert am.fad(gen, wide_ref) > 0.45 and abs(inf["fad_inf"] - 0.25) < 0.1
    assert inf["slope"] > 0 and len(inf["points"]) > 3


def test_kl_clap_score_pitch_ndb_and_outliers() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    assert am.kl_divergence(p, p) == pytest.approx({"kl_set": 0.0, "kl_paired": 0.0}, abs=1e-9)
    q = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    assert am.kl_divergence(q, p)["kl_paired"] > am.kl_divergence(p, p)["kl_paired"]
    kl = am.kl_divergence(np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]]))["kl_set"]
    assert kl == pytest.approx(0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5))
    e = np.random.default_rng(2).normal(size=(6, 8))
    assert am.clap_score(e, 3 * e) == pytest.approx(1.0) and am.clap_score(e, -e) == pytest.approx(-1.0)
    assert am.pitch_accuracy(np.array([60.2, 61.9, 64]), np.array([60, 62, 65])) == pytest.approx(2 / 3)
    assert am.pitch_entropy(np.array([60, 60, 60])) == 0.0 and am.pitch_entropy(np.arange(8)) == pytest.approx(3.0)
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(600, 2))
    assert am.ndb(rng.normal(size=(600, 2)), ref, k=10, rng=rng)["ndb"] <= 2
    assert am.ndb(rng.normal(size=(600, 2)) + 1.5, ref, k=10, rng=rng)["ndb_over_k"] >= 0.5
    far = am.outliers(np.vstack([ref[:20] + 0.01, np.full((5, 2), 9.0)]), ref)
    assert far["share"] == pytest.approx(5 / 25)
    ci = am.bootstrap(am.fad, rng.normal(size=(200, 2)) + 1, ref, n=10, rng=rng)
    assert ci["low"] <= ci["value"] <= ci["high"] or ci["low"] <= ci["high"]


def test_the_matrix_square_root_check_and_singular_covariances() -> None:
    mu = np.zeros(3)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        am.frechet_distance(mu, np.diag([1.0, 1.0, 1.0]), mu, -np.diag([1.0, 2.0, 3.0]))  # no real square root
    rng = np.random.default_rng(4)
    few = rng.normal(size=(10, 64))  # fewer clips than dimensions: singular covariances, still a real distance
    d = am.fad(few, rng.normal(size=(12, 64)))
    assert np.isfinite(d) and d > 0
    # agrees with scipy's sqrtm where that is well conditioned
    from scipy import linalg

    a, b = rng.normal(size=(500, 4)), rng.normal(size=(500, 4)) * 2
    (m1, s1), (m2, s2) = am.gaussian_stats(a), am.gaussian_stats(b)
    direct = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert am.frechet_distance(m1, s1, m2, s2) == pytest.approx(direct, rel=1e-8)


# ------------------------------------------------------------------------------------------------ captions


def test_captions_are_true_and_varied() -> None:
    entry = {"instrument": "Violin", "program": 40, "tempo_bpm": 66, "key": "D minor", "meter": "3/4",
             "velocity": 60, "n_parts": 1, "mean_pitch": 76}  # fmt: skip
    assert canonical_caption(entry) == "a slow violin melody in D minor, 3/4, played softly in the high register"
    f = facts(entry)
    assert f["family"] == "strings" and f["register"] == "high"
    rng = np.random.default_rng(0)
    drawn = {caption(entry, rng) for _ in range(60)}
    assert len(drawn) >= 6 and drawn <= set(all_captions(entry))
    assert all("violin" in c for c in drawn)  # every wording names the instrument
    no_key = {k: v for k, v in entry.items() if k != "key"}
    assert all("D minor" not in c and "{" not in c for c in all_captions(no_key))
    rain = {"kind": "rain", "param_mean": {"density": 0.9}}
    assert canonical_caption(rain) == "the sound of heavy rain"


# ------------------------------------------------------------------------------------------------ models


def _clips(tmp_path: Path) -> tuple[list, Path]:  # type: ignore[type-arg]
    """A tiny dataset folder: sines ("Flute") and noise ("rain") clips, train and valid."""
    from cadenza.audio.datasets import write_manifest

    rng = np.random.default_rng(0)
    entries = []
    for i in range(12):
        split = "valid" if i % 4 == 3 else "train"
        t = np.arange(16000) / 16000
        if i % 2:
            y = 0.3 * np.sin(2 * np.pi * (440 + 20 * i) * t)
            e = {"instrument": "Flute", "program": 73, "tempo_bpm": 100, "key": "C major", "meter": "4/4",
                 "velocity": 80, "n_parts": 1, "mean_pitch": 70}  # fmt: skip
        else:
            y = 0.2 * rng.standard_normal(16000)
            e = {"kind": "rain", "param_mean": {"density": 0.5}}
        rel = f"{split}/c{i}.wav"
        write_audio(AudioClip(y.astype(np.float32), 16000), tmp_path / "data" / rel)
        entries.append({"file": rel, "split": split, **e})
    write_manifest(tmp_path / "data", entries)
    from cadenza.audio.sound_data import load_clips

    return load_clips([tmp_path / "data"], "train", 16000, progress=False), tmp_path / "data"


def test_gain_in_the_log_mel_domain_is_exact() -> None:
    from cadenza.audio.audio_tower import apply_gain, log_mel

    x = np.random.default_rng(0).normal(size=16000).astype(np.float32) * 0.1
    louder = apply_gain(log_mel(x, TINY_TOWER), torch.tensor(-6.0))
    torch.testing.assert_close(louder, log_mel(x * 10 ** (-6 / 20), TINY_TOWER), atol=1e-3, rtol=0)


def test_window_batches_are_deterministic(tmp_path: Path) -> None:
    from cadenza.audio.clap import sentence_embeddings
    from cadenza.audio.sound_data import WindowBatches

    clips, _ = _clips(tmp_path)
    texts = sorted({t for c in clips for t in all_captions(c.entry)})
    table = dict(zip(texts, sentence_embeddings(texts), strict=True))
    data = WindowBatches(clips, TINY_TOWER, 6, labels=["Flute", "rain"], caption_table=table, seed=3)
    a, b = data.batch(5), data.batch(5)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["mel"], data.batch(6)["mel"])
    assert a["mel"].shape == (6, 32, 50) and a["text"].shape == (6, 384) and a["same"].shape == (6, 6)
    assert a["same"].diagonal().all()


def test_clap_and_classifier_learn_and_round_trip(tmp_path: Path) -> None:
    from cadenza.audio.clap import CLAP, ClapConfig, clap_loss, evaluate_clap, sentence_embeddings
    from cadenza.audio.classifier import ClassifierConfig, SoundClassifier, classifier_loss
    from cadenza.audio.sound_data import WindowBatches, load_clips

    clips, folder = _clips(tmp_path)
    texts = sorted({t for c in clips for t in all_captions(c.entry)})
    table = dict(zip(texts, sentence_embeddings(texts), strict=True))
    torch.manual_seed(0)
    clap = CLAP(ClapConfig(tower=TINY_TOWER, joint_dim=16, batch_size=8))
    data = WindowBatches(clips, TINY_TOWER, 8, labels=["Flute", "rain"], caption_table=table)
    batch = data.batch(0)
    opt = torch.optim.Adam(clap.parameters(), 3e-3)
    first = clap_loss(clap, batch).item()
    for _ in range(60):
        loss = clap_loss(clap, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.6 * first  # not 0: clips of one class with different wordings cannot be told apart
    held = load_clips([folder], "valid", 16000, progress=False)
    r = evaluate_clap(clap, held)
    assert set(r) >= {"text_to_audio_r1", "zero_shot_accuracy", "chance_r1"} and r["clips"] == 3
    clap.save_pretrained(tmp_path / "clap", card="# c\n")
    back = CLAP.from_pretrained(tmp_path / "clap")
    np.testing.assert_allclose(back.embed_audio([held[0].audio]), clap.embed_audio([held[0].audio]), atol=1e-6)
    np.testing.assert_allclose(back.embed_text(["rain"]), clap.embed_text(["rain"]), atol=1e-6)

    clf = SoundClassifier(ClassifierConfig(classes=("Flute", "rain"), tower=TINY_TOWER, batch_size=8))
    opt = torch.optim.Adam(clf.parameters(), 3e-3)
    first = classifier_loss(clf, batch).item()
    for _ in range(20):
        loss = classifier_loss(clf, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    probs = clf.probabilities([c.audio for c in held])
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1)
    clf.save_pretrained(tmp_path / "clf", card="# c\n")
    again = SoundClassifier.from_pretrained(tmp_path / "clf")
    np.testing.assert_allclose(again.probabilities([held[0].audio]), clf.probabilities([held[0].audio]), atol=1e-6)
    assert again.cfg.classes == ("Flute", "rain")


# ------------------------------------------------------------------------------------------------ the command


def _folder(path: Path, seed: int, n: int = 10, noise: float = 0.0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    for i in range(n):
        y = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t) + noise * rng.standard_normal(16000)
        write_audio(AudioClip(y.astype(np.float32), 16000), path / f"{i:02d}.wav")
    return path


def test_eval_audio_command(tmp_path: Path) -> None:
    ref = _folder(tmp_path / "ref", 0)
    near = _folder(tmp_path / "near", 1)
    noisy = _folder(tmp_path / "noisy", 2, noise=0.3)
    p = run("eval", "audio", str(near), "--reference", str(ref), "--embedder", "mel", "--json")
    assert p.returncode == 0, p.stderr
    close = json.loads(p.stdout)
    assert close["n_generated"] == 10 and set(close["metrics"]["mel"]) >= {"fad", "fad_inf", "kad"}
    p = run("eval", "audio", str(noisy), "--reference", str(ref), "--embedder", "mel")
    assert p.returncode == 0 and "mel" in p.stdout and "FAD" in p.stdout, p.stderr
    far = json.loads(run("eval", "audio", str(noisy), "--reference", str(ref), "--embedder", "mel", "--json").stdout)
    assert far["metrics"]["mel"]["fad"] > close["metrics"]["mel"]["fad"]
    (tmp_path / "empty").mkdir()
    assert_user_error(run("eval", "audio", str(tmp_path / "empty"), "--reference", str(ref)), "empty", "no audio")
    write_audio(AudioClip(np.zeros(16000, np.float32), 16000), tmp_path / "silent" / "a.wav")
    write_audio(AudioClip(np.zeros(16000, np.float32), 16000), tmp_path / "silent" / "b.wav")
    assert_user_error(run("eval", "audio", str(tmp_path / "silent"), "--reference", str(ref), "--embedder", "mel"),
                      "at least 2 readable, non-silent clips")  # fmt: skip
    assert_user_error(run("eval", "audio", str(near), "--reference", str(ref), "--embedder", "vggish"),
                      "unknown embedder 'vggish'")  # fmt: skip
    pitched = tmp_path / "pitched"
    t = np.arange(16000) / 16000
    for i, midi in enumerate((60, 64, 67, 72)):
        y = 0.3 * np.sin(2 * np.pi * 440 * 2 ** ((midi - 69) / 12) * t)
        write_audio(AudioClip(y.astype(np.float32), 16000), pitched / f"{i}.wav")
    asked = tmp_path / "pitches.jsonl"
    asked.write_text(
        "".join(json.dumps({"file": f"{i}.wav", "pitch": m}) + "\n" for i, m in enumerate((60, 64, 67, 71)))
    )
    p = run(
        "eval", "audio", str(pitched), "--reference", str(ref), "--embedder", "mel", "--pitches", str(asked), "--json"
    )
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)["pitch"]
    assert got["accuracy"] == 0.75 and got["entropy_generated_bits"] == 2.0  # 71 was asked, 72 was played
    captions = tmp_path / "captions.jsonl"
    captions.write_text("".join(json.dumps({"file": f"{i:02d}.wav", "caption": "a flute"}) + "\n" for i in range(11)))
    assert_user_error(run("eval", "audio", str(near), "--reference", str(ref), "--embedder", "mel", "--captions",
                          str(captions)), "captions.jsonl", "not in")  # fmt: skip
