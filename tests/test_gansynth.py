"""GANSynth's parts: the IF representation round-trips, the generator and discriminator shapes, one training step
that trains each side by its own terms only, latent interpolation, the pitch range (tiny configs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cadenza.audio.gansynth import GANSynth, GANSynthConfig, GANSynthTrainer, SpectralIF
from cadenza.errors import InputError

TINY = GANSynthConfig(n_fft=64, hop=32, frames=8, channels=(8, 8, 8), latent_dim=4, pitch_low=60, pitch_high=63)


def note(cfg: GANSynthConfig, hz: float = 440.0) -> torch.Tensor:
    t = torch.arange(cfg.n_samples) / cfg.sample_rate
    return (0.5 * torch.sin(2 * np.pi * hz * t) * torch.exp(-t))[None]


def test_linear_if_round_trips_exactly() -> None:
    cfg = GANSynthConfig()
    spec = SpectralIF(cfg)
    x = note(cfg) + 0.01 * torch.randn(1, cfg.n_samples, generator=torch.Generator().manual_seed(0))
    feats = spec(x)
    assert feats.shape == (1, 2, 128, 512) and feats.abs().max() <= 1.0
    y = spec.inverse(feats)
    inner = slice(cfg.n_fft, cfg.n_samples - cfg.n_fft)  # away from the edges' half windows
    assert torch.allclose(y[:, inner], x[:, inner], atol=1e-3)


def test_mel_warp_and_magnitude_only_run() -> None:
    for cfg in (GANSynthConfig(mel=True), GANSynthConfig(if_channel=False)):
        spec = SpectralIF(cfg)
        feats = spec(note(cfg))
        assert feats.shape[1] == (2 if cfg.if_channel else 1)
        y = spec.inverse(feats, griffin_lim_iters=2)
        assert y.shape == (1, cfg.n_samples) and torch.isfinite(y).all()


def test_a_training_step_trains_each_side_by_its_own_terms() -> None:
    torch.manual_seed(0)
    trainer = GANSynthTrainer(TINY)
    feats = SpectralIF(TINY)(torch.randn(4, TINY.n_samples) * 0.1)
    pitch, z = torch.tensor([0, 1, 2, 3]), torch.randn(4, TINY.latent_dim)
    out = trainer(feats, pitch, z)
    out["loss"].backward()
    assert all(p.grad is not None for p in trainer.model.generator.parameters())
    assert all(p.grad is not None for p in trainer.disc.parameters())
    # the generator's adversarial term alone leaves the discriminator untouched
    trainer.zero_grad()
    for p in trainer.disc.parameters():
        p.requires_grad_(False)
    g_c, _ = trainer.disc(trainer.model.generator(z, pitch))
    for p in trainer.disc.parameters():
        p.requires_grad_(True)
    (-g_c.mean()).backward()
    assert all(p.grad is None for p in trainer.disc.parameters())


def test_generate_interpolate_and_pitch_range() -> None:
    torch.manual_seed(0)
    model = GANSynth(TINY).eval()
    y = model.generate([60, 63], seed=0)
    assert y.shape == (2, TINY.n_samples) and np.isfinite(y).all()
    assert np.allclose(model.generate([60], seed=3), model.generate([60], seed=3))
    a, b = model.latents(2, seed=1)
    path = GANSynth.interpolate(a, b, 5)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    with pytest.raises(InputError, match="outside the trained range 60-63"):
        model.generate([70])
    with pytest.raises(ValueError, match="stages make"):
        GANSynthConfig(frames=64)


def test_lazy_gradient_penalty_runs_every_kth_step_and_is_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    from cadenza.audio import gansynth

    calls: list[int] = []
    real = gansynth.gradient_penalty
    monkeypatch.setattr(gansynth, "gradient_penalty", lambda *a: calls.append(1) or real(*a))
    trainer = GANSynthTrainer(TINY, gp_every=3).train()
    feats = SpectralIF(TINY)(torch.randn(2, TINY.n_samples) * 0.1)
    for _ in range(6):
        trainer(feats, torch.tensor([0, 1]), torch.randn(2, TINY.latent_dim))
    assert len(calls) == 2 and int(trainer.state_dict()["steps"]) == 6  # a resumed run penalizes the same steps
    with pytest.raises(ValueError, match="gp_every"):
        GANSynthTrainer(TINY, gp_every=0)


def test_render_plays_a_score_with_one_timbre() -> None:
    from cadenza.core.score import make_score

    torch.manual_seed(0)
    model = GANSynth(TINY).eval()
    score = make_score([[(60, 0.0, 1.0), (75, 1.0, 0.5)]], tempo_bpm=120.0)  # 75 is an octave above the range
    audio, moved = model.render(score, seed=0)
    assert moved == 1 and np.isfinite(audio).all() and np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-6
    assert len(audio) == pytest.approx(0.75 * TINY.sample_rate, abs=0.06 * TINY.sample_rate)
    assert model.fold_pitch(75) == 63 and model.fold_pitch(50) == 62


def _sine_notes(folder: Path, pitches: range) -> None:
    """A note set as `cadenza data notes` writes it, of decaying sines (train split)."""
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    rows = []
    for p in pitches:
        t = np.arange(16000) / 16000
        x = (0.5 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) * np.exp(-3 * t)).astype(np.float32)
        f = f"train/sine-{p}.wav"
        (folder / "train").mkdir(parents=True, exist_ok=True)
        write_audio(AudioClip(x[None], 16000), folder / f)
        rows.append({"file": f, "split": "train", "instrument": "sine", "pitch": p, "velocity": 100})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_commands_train_generate_render_and_bad_input(tmp_path: Path) -> None:
    from tests.test_cli import assert_user_error, run

    from cadenza.cli.common import write_outputs
    from cadenza.core.score import make_score

    data, model = tmp_path / "notes", tmp_path / "gs"
    _sine_notes(data, range(60, 63))
    p = run("gansynth", "train", "--data", str(data), "--pitches", "60", "62", "--steps", "2", "--batch-size", "2",
            "--threads", "1", "-o", str(model))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "pitch accuracy" in p.stdout and (model / "card.md").is_file()
    card = (model / "card.md").read_text()
    assert "IF" in card and "64 frames x 256 bins" in card and "MIDI 60-62" in card
    assert "phase the `in-tune` way" in card and "other phases: drawn " in card and "griffin-lim " in card
    out = tmp_path / "n.wav"
    p = run("gansynth", "generate", "--model", str(model), "--pitch", "60", "62", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert out.is_file() and "2 note(s)" in p.stdout
    p = run("gansynth", "generate", "--model", str(model), "--pitch", "61", "--interpolate", "1", "2", "--steps", "3",
            "-o", str(out))  # fmt: skip
    assert p.returncode == 0 and "3 notes at MIDI 61" in p.stdout, p.stderr
    song = write_outputs(make_score([[(60, 0.0, 1.0), (74, 1.0, 1.0)]]), str(tmp_path / "song"))[0]
    p = run("gansynth", "render", str(song), "--model", str(model), "-o", str(tmp_path / "song.wav"))
    assert p.returncode == 0, p.stderr
    assert "2 notes" in p.stdout and "1 note(s) moved by octaves" in p.stdout
    assert_user_error(run("gansynth", "generate", "--model", str(model), "--pitch", "90", "-o", str(out)),
                      "--pitch", "outside the trained range 60-62")  # fmt: skip
    assert_user_error(run("gansynth", "train", "--data", str(tmp_path), "-o", str(tmp_path / "x")),
                      "not a note set")  # fmt: skip
    assert_user_error(run("gansynth", "train", "--data", str(data), "--pitches", "30", "40", "-o",
                          str(tmp_path / "y")), "no train notes with pitches 30-40")  # fmt: skip
    assert not (tmp_path / "y" / "model.safetensors").exists()
    # a kept checkpoint written instead of the last one; a step that was not kept, or other options, refused
    chosen = tmp_path / "gs-step1"
    shutil.copytree(model / "run", chosen / "run")
    base = ["gansynth", "train", "--data", str(data), "--pitches", "60", "62", "--steps", "2", "--batch-size", "2"]
    p = run(*base, "--eval-every", "1", "--threads", "1", "-o", str(chosen), "--export-step", "2")
    assert p.returncode == 0, p.stderr
    assert "checkpoint at step 2" in (chosen / "card.md").read_text()
    assert_user_error(run(*base, "-o", str(chosen), "--export-step", "7"), "not a kept checkpoint (kept steps: 2)")
    assert_user_error(run(*base, "--magnitude-only", "-o", str(chosen), "--export-step", "2"),
                      "another model config")  # fmt: skip


def test_the_inverse_of_generated_features_has_no_click_at_the_end() -> None:
    """Features that are no signal's STFT (a generator's) used to come back with their last hop divided by a window
    envelope near zero: a click far above the note."""
    cfg = GANSynthConfig(n_fft=512, hop=256, frames=64, channels=(8, 8, 8, 8, 8, 8), latent_dim=4)
    g = torch.Generator().manual_seed(0)
    feats = torch.stack([torch.full((64, 256), -0.2), torch.rand(64, 256, generator=g) * 2 - 1])[None]
    y = SpectralIF(cfg).inverse(feats)[0]
    hops = y[: 64 * 256].reshape(64, 256).pow(2).mean(1).sqrt()
    assert float(hops[-1]) < 2 * float(hops[1:-1].median())


def conditioned(cfg: GANSynthConfig) -> tuple[GANSynthTrainer, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded trainer, a batch of 4 notes (features, pitches, latents), and its critic's scores of those notes under
    their pitches and under other pitches."""
    torch.manual_seed(0)
    trainer = GANSynthTrainer(cfg)
    feats = SpectralIF(cfg)(torch.randn(4, cfg.n_samples) * 0.1)
    pitch, z = torch.tensor([0, 1, 2, 3]), torch.randn(4, cfg.latent_dim)
    with torch.no_grad():
        a, _ = trainer.disc(feats, pitch)
        b, _ = trainer.disc(feats, pitch.flip(0))
    return trainer, feats, pitch, z, a - b


def test_projection_conditions_the_critic_and_every_generator_stage() -> None:
    from dataclasses import replace

    trainer, feats, pitch, z, diff = conditioned(replace(TINY, projection=True))
    assert float(diff.abs().max()) > 0  # the same notes scored differently under other pitches
    trainer(feats, pitch, z)["loss"].backward()
    assert all(m.weight.grad is not None and float(m.weight.grad.abs().max()) > 0
               for m in trainer.model.generator.cond_bias)  # fmt: skip
    assert not hasattr(GANSynthTrainer(TINY).model.generator, "cond_bias")  # the paper's network is unchanged


def test_pitch_maps_mark_each_harmonic_and_reach_both_networks() -> None:
    from dataclasses import replace

    from cadenza.audio.gansynth import harmonic_maps

    cfg = GANSynthConfig(n_fft=512, hop=256, frames=64, channels=(4,) * 6, pitch_low=57, pitch_high=69)
    maps = harmonic_maps(cfg)  # [pitches, 2, bins]
    comb = maps[69 - 57, 0]  # A4: harmonics every 440 Hz, bins of 31.25 Hz
    peaks = [k for k in range(1, cfg.bins - 1) if comb[k] > 0.5 and comb[k] >= comb[k - 1] and comb[k] >= comb[k + 1]]
    assert peaks == [round(h * 440 / 31.25) for h in range(1, 19)]  # 18 harmonics below 8 kHz, each where it falls
    assert maps[0, 1, 0] == 0 and float(maps[0, 1, -1]) == pytest.approx(1, abs=0.01)  # the frequency coordinate
    # the IF map is what the features' IF reads for an in-tune harmonic note, in each harmonic's bins
    feats = SpectralIF(cfg)(note(cfg, 440.0) + note(cfg, 880.0) + note(cfg, 1320.0))[0, 1, 10]
    for k in (14, 28, 42):
        assert float(maps[69 - 57, 2, k]) == pytest.approx(float(feats[k]), abs=0.02)
    with pytest.raises(ValueError, match="need a pitch"):
        replace(TINY, pitch_map=True, n_params=1)

    trainer, feats, pitch, z, diff = conditioned(replace(TINY, pitch_map=True))
    assert float(diff.abs().max()) > 0  # the critic sees where the asked pitch's harmonics should be
    with torch.no_grad():
        two = trainer.model.generator(z[:1].expand(2, -1), pitch[:2])
    assert not torch.allclose(two[0], two[1])  # one timbre, two pitches: two notes
    trainer(feats, pitch, z)["loss"].backward()
    assert all(float(m.weight.grad.abs().max()) > 0 for m in trainer.model.generator.map_in)  # type: ignore[union-attr]
    g = trainer.model.generator
    with torch.no_grad():  # no deviation drawn: the generated IF is the in-tune IF of each bin's nearest harmonic
        g.out.weight.zero_()
        g.out.bias.zero_()
        made = g(z[:2], pitch[:2])
    assert torch.allclose(made[:, 1], g.in_tune[pitch[:2]], atol=1e-5)


def test_the_in_tune_if_has_the_phase_of_a_real_harmonic_note() -> None:
    """Integrated over time, the in-tune IF is a real in-tune note's phase up to one constant per harmonic: the
    main lobe's bins keep their slope of -pi per bin (without it they sum into a buzz, not a note)."""
    from cadenza.audio.gansynth import in_tune_if

    cfg = GANSynthConfig(n_fft=512, hop=256, frames=64, channels=(4,) * 6, pitch_low=57, pitch_high=69)
    t = torch.arange(cfg.n_samples) / cfg.sample_rate
    x = sum(torch.cos(2 * np.pi * 440.0 * h * t + h) / h for h in (1, 2, 3))[None] * 0.3
    real = torch.cumsum(SpectralIF(cfg)(x)[0, 1] * np.pi, dim=0)
    made = torch.cumsum(in_tune_if(cfg)[69 - 57] * np.pi, dim=0)
    for centre in (14, 28, 42):  # 440, 880 and 1320 Hz in 31.25 Hz bins; their main lobes
        diff = torch.remainder(real[5:, centre - 1 : centre + 2] - made[5:, centre - 1 : centre + 2], 2 * np.pi)
        diff = torch.remainder(diff - diff[0, 0] + np.pi, 2 * np.pi) - np.pi
        assert float(diff.abs().max()) < 0.05


def test_mode_seeking_penalizes_latents_that_make_the_same_note() -> None:
    torch.manual_seed(0)
    plain, seeking = GANSynthTrainer(TINY), GANSynthTrainer(TINY, mode_seeking=1.0)
    seeking.load_state_dict(plain.state_dict())
    feats = SpectralIF(TINY)(torch.randn(4, TINY.n_samples) * 0.1)
    pitch, z = torch.tensor([0, 1, 2, 3]), torch.randn(4, TINY.latent_dim)
    torch.manual_seed(1)
    a = plain(feats, pitch, z)["loss"]
    torch.manual_seed(1)
    b = seeking(feats, pitch, z)["loss"]
    assert float((b - a).detach()) > 1.0  # 1 / (note distance / latent distance): notes nearly alike
    b.backward()
    assert float(seeking.model.generator.inp.weight.grad.abs().max()) > 0


def test_timbre_spread_is_zero_for_one_timbre_and_grows_with_different_ones() -> None:
    from cadenza.audio.gansynth_train import timbre_spread

    sr, n = 16000, 16384
    t = np.arange(n) / sr
    sine = 0.5 * np.sin(2 * np.pi * 220 * t)
    bright = sine + 0.3 * np.sin(2 * np.pi * 660 * t) + 0.2 * np.sin(2 * np.pi * 1100 * t)
    pitches = np.array([57, 57, 69, 69])
    same = np.stack([sine, sine, bright, bright]).astype(np.float32)  # one timbre per pitch
    assert timbre_spread(same, pitches, sr) < 1e-6
    mixed = np.stack([sine, bright, sine, bright]).astype(np.float32)  # two timbres at each pitch
    assert timbre_spread(mixed, pitches, sr) > 0.05


def test_a_run_is_repeatable_from_its_seed(tmp_path: Path) -> None:
    from cadenza.audio.gansynth_train import DISC_GROUP, cpu_config, train_gansynth
    from cadenza.train.loop import TrainConfig

    _sine_notes(tmp_path / "notes", range(60, 62))
    cfg = cpu_config(pitch_low=60, pitch_high=61, channels=(8, 8, 8, 8, 8, 8), latent_dim=4)
    tc = TrainConfig(max_steps=2, lr=1e-3, warmup_steps=1, eval_every=100, checkpoint_every=100, seed=3,
                     groups=(DISC_GROUP,))  # fmt: skip
    weights = []
    for run in ("a", "b"):
        torch.manual_seed(len(run) * 7 + ord(run))  # whatever the global generator held before
        model, _ = train_gansynth(tmp_path / "notes", tmp_path / run, cfg, tc, batch_size=2, progress=False)
        weights.append(model.generator.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_held_out_pitches_are_never_trained_and_play_from_their_neighbours(tmp_path: Path) -> None:
    from tests.test_cli import assert_user_error, run

    from cadenza.audio.gansynth import pitch_code
    from cadenza.audio.gansynth_train import DISC_GROUP, cpu_config, train_gansynth
    from cadenza.train.loop import TrainConfig

    code = pitch_code(GANSynthConfig(**{**TINY.__dict__, "held_out": (61, 62)}))
    assert torch.equal(code[0], torch.eye(4)[0]) and torch.equal(code[3], torch.eye(4)[3])
    assert torch.equal(code[1], torch.tensor([0.5, 0, 0, 0.5])) and torch.equal(code[2], code[1])
    with pytest.raises(ValueError, match="not at its ends"):
        GANSynthConfig(**{**TINY.__dict__, "held_out": (60,)})

    _sine_notes(tmp_path / "notes", range(60, 63))
    cfg = cpu_config(pitch_low=60, pitch_high=62, channels=(8, 8, 8, 8, 8, 8), latent_dim=4, held_out=(61,))
    tc = TrainConfig(max_steps=3, lr=1e-2, warmup_steps=1, eval_every=100, checkpoint_every=100, seed=3, weight_decay=0,
                     groups=(DISC_GROUP,))  # fmt: skip
    torch.manual_seed(tc.seed)
    start = GANSynthTrainer(cfg).model.generator.inp.weight.detach().clone()
    model, figures = train_gansynth(tmp_path / "notes", tmp_path / "run", cfg, tc, batch_size=2, progress=False)
    trained = model.generator.inp.weight.detach()
    column = cfg.latent_dim + 1  # the one-hot input of MIDI 61: no note of it, nor its code, ever reached it
    assert torch.equal(trained[:, column], start[:, column]) and not torch.equal(trained, start)
    assert figures["train_notes"] == 2 and 0.0 <= figures["held_out_pitch_accuracy"] <= 1.0
    assert_user_error(run("gansynth", "train", "--data", str(tmp_path / "notes"), "--pitches", "60", "62",
                          "--hold-out-pitches", "62", "-o", str(tmp_path / "x")),
                      "--hold-out-pitches", "62 is not inside the pitch range 60-62 (ends are trained)")  # fmt: skip


def test_notes_take_their_phase_from_the_drawn_if_an_in_tune_note_or_griffin_lim() -> None:
    from cadenza.audio.gansynth_train import cpu_config

    cfg = cpu_config(channels=(8, 8, 8, 8, 8, 8), latent_dim=4)
    model = GANSynth(cfg).eval()
    sr, n = cfg.sample_rate, cfg.n_samples
    t = torch.arange(n) / sr
    real = sum(0.3 / k * torch.sin(2 * np.pi * 440.0 * k * t) for k in (1, 2, 3))[None] * torch.exp(-2 * t)
    feats, idx = model.spec(real), torch.tensor([69 - cfg.pitch_low])
    inside = slice(0, n - cfg.n_fft)  # (the last hop is faded: `edge_gain`)
    assert torch.allclose(model.invert(feats, idx, "drawn")[:, inside], real[:, inside], atol=1e-3)  # the note itself
    for phase, cents in (("in-tune", 10), ("griffin-lim", 50)):  # the magnitude only: the pitch survives
        y = model.invert(feats, idx, phase)[0].numpy()
        peak = np.argmax(np.abs(np.fft.rfft(y * np.hanning(n)))) * sr / n
        assert abs(1200 * np.log2(peak / 440.0)) < cents, (phase, peak)
    assert model.phases[0] == "in-tune" and len(model.generate([60, 61], phase="drawn")) == 2
    ends = np.abs(model.generate([60, 72], seed=1))  # every note fades out over its last 64 ms (END_FADE_S)
    assert ends[:, -1].max() < 1e-6 and ends[:, -1024:-900].max() > 0
    magnitude = GANSynth(cpu_config(channels=(8, 8, 8, 8, 8, 8), latent_dim=4, if_channel=False)).eval()
    assert magnitude.phases == ("in-tune", "griffin-lim")
    assert np.isfinite(magnitude.generate([48], phase="griffin-lim")).all()
    with pytest.raises(InputError, match="must be one of in-tune, griffin-lim"):
        magnitude.generate([48], phase="drawn")
