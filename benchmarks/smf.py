"""The Sound Model Factory's wind, measured as a player meets it: does it follow the control, is the path smooth,
is it fast, does it drift.

usage: python benchmarks/smf.py [--model smf-wind] [--data /work/data/textures-big] [--clips 40]

Data: the test split of the texture set the model's GAN was trained on, rebuilt with the same command and seed
(`cadenza data textures --kind wind --clips 400 --duration 8 --seed 2`: the wind clips of textures-big); the model
never saw these clips. Each test clip's parameter curve is asked of the model as its control (8 s).

Measures:
- following: a ridge probe (`cadenza.evaluate.param_probe`), fitted on the *training* clips' audio and curves,
  reads the parameter from 0.5 s windows; per clip, the Pearson r between the reading and the curve asked for
  (median, and the share of clips with r < 0.5: gross failures), the same against another clip's curve (the
  shuffled control: a model that ignored its control scores there), and the mean absolute error against the
  parameter the path holds at that control. Beside it in the same run: the real test clips (the ceiling) and the
  GAN itself along the path (what the recurrent model learned from).
- smoothness across the control range: the GAN's windows at 33 evenly spaced control values along the SOM path,
  beside raw latent interpolation (a spherical path between two random latents with the parameter moved over the
  same range; 8 pairs); spectral flux between neighbouring values (mean absolute difference of the windows' mean
  64-band log-mel, dB: median step and largest step) and how monotonically the probe's reading grows along the way
  (Spearman rho).
- speed on one core: real-time factor offline (60 s) and live (blocks of 25 frames through the stream, as
  `cadenza smf play --live`), and the live latency.
- drift: 10 minutes of live play at a constant control (0.5): level (dB) and spectral centroid (Hz) of the first
  and last 10 s, and the range of the per-minute levels.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import torch

from cadenza.audio.gansynth import GANSynth
from cadenza.audio.smf import SoundModel, along, gan_play, texture_clips
from cadenza.evaluate.param_probe import Probe, curve_windows, following, probe_features

from common import write_result


def mean_logmel(x: np.ndarray, sr: int) -> np.ndarray:
    from cadenza.audio.audio_tower import AudioTowerConfig, log_mel

    return log_mel(x, AudioTowerConfig(sample_rate=sr)).numpy().mean(1) * 10 / np.log(10)  # dB


def smoothness(windows: np.ndarray, probe: Probe, sr: int) -> dict[str, float]:
    from scipy.stats import spearmanr

    spectra = np.stack([mean_logmel(w, sr) for w in windows])
    flux = np.abs(np.diff(spectra, axis=0)).mean(1)
    reading = np.array([probe(probe_features(w, sr)).mean() for w in windows])
    return {"flux_median_db": float(np.median(flux)), "flux_max_db": float(flux.max()),
            "probe_spearman": float(spearmanr(np.arange(len(reading)), reading)[0])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smf-wind")
    ap.add_argument("--data", default="/work/data/textures-big")
    ap.add_argument("--clips", type=int, default=40, help="test clips (default 40: all of them)")
    ap.add_argument("--drift-minutes", type=float, default=10.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = SoundModel.from_pretrained(args.model)
    sr, kind = model.sample_rate, model.cfg.texture
    train_audio, train_curves, _, rate = texture_clips(args.data, "train", kind)
    feats = [probe_features(x, sr) for x in train_audio]
    probe = Probe(
        np.concatenate(feats),
        np.concatenate([curve_windows(c, rate, len(f)) for c, f in zip(train_curves, feats, strict=True)]),
    )
    test_audio, test_curves, _, _ = texture_clips(args.data, "test", kind)
    test_audio, test_curves = test_audio[: args.clips], test_curves[: args.clips]
    path = model.path.numpy()
    fr = model.frame_rate

    def at_frame_rate(c: np.ndarray, seconds: float) -> np.ndarray:
        t = np.arange(round(seconds * fr)) / fr
        return np.interp(t, np.arange(len(c)) / rate, c).astype(np.float32)

    seconds = min(len(x) for x in test_audio) / sr
    controls = [at_frame_rate(c, seconds) for c in test_curves]
    made = [model.play(c, seed=i).samples[0] for i, c in enumerate(controls)]
    # what the control means on the path: the parameter the path holds there (the MAE's target)
    held = [along(path, c[:: max(1, fr // rate)])[:, -1] for c in controls]
    figures: dict[str, Any] = {
        "model": args.model,
        "texture": kind,
        "clips": len(test_audio),
        "path_parameter_range": [round(float(path[0, -1]), 3), round(float(path[-1, -1]), 3)],
    }
    figures["following_real_clips"] = following(probe, test_audio, test_curves, sr, rate)
    figures["following_model"] = following(probe, made, test_curves, sr, rate)
    figures["following_model_mae_vs_path_parameter"] = round(float(np.mean([
        np.abs(np.clip(probe(probe_features(x, sr)), 0, 1) - curve_windows(h, rate, len(probe_features(x, sr)))).mean()
        for x, h in zip(made, held, strict=True)])), 3)  # fmt: skip
    gan_made = [gan_play(model, c, jitter=0.3, seed=i) for i, c in enumerate(controls[:12])]
    figures["following_gan_along_path"] = following(probe, gan_made, test_curves[:12], sr, rate)
    print("following", {k: figures[k] for k in figures if k.startswith("following")}, file=sys.stderr)

    # smoothness: the SOM path vs raw latent interpolation, the same parameter range
    u = np.linspace(0, 1, 33, dtype=np.float32)
    figures["smoothness_som_path"] = {k: round(v, 3) for k, v in smoothness(model.gan_along_path(u), probe, sr).items()}
    raw = []
    d = model.gan_cfg.latent_dim
    for s in range(8):
        g = torch.Generator().manual_seed(100 + s)
        za, zb = torch.randn(2, d, generator=g)
        z = GANSynth.interpolate(za, zb, len(u))
        c = torch.from_numpy(path[0, -1] + u * (path[-1, -1] - path[0, -1]))[:, None].float()
        with torch.no_grad():
            w = model.spec.inverse(model.generator(z, c)).numpy()
        raw.append(smoothness(w, probe, sr))
    figures["smoothness_raw_interpolation"] = {k: round(float(np.median([r[k] for r in raw])), 3) for k in raw[0]}
    print("smoothness", figures["smoothness_som_path"], figures["smoothness_raw_interpolation"], file=sys.stderr)

    # speed
    c60 = np.full(60 * fr, 0.5, np.float32)
    t0 = time.perf_counter()
    model.play(c60)
    figures["realtime_factor_offline"] = round(60 / (time.perf_counter() - t0), 1)
    stream = model.stream()
    t0 = time.perf_counter()
    n_samples = sum(len(stream.step(0.5, 25)) for _ in range(240))
    figures["realtime_factor_live"] = round(n_samples / sr / (time.perf_counter() - t0), 1)
    figures["live_latency_ms"] = round(26 * model.rnn.cfg.hop / sr * 1000)

    # drift over long play at a constant control
    stream = model.stream(seed=7)
    minute: list[np.ndarray] = []
    levels, first, last = [], None, None
    total = int(args.drift_minutes * 60 * sr)
    done = 0
    while done < total:
        y = stream.step(0.5, fr)  # one second
        done += len(y)
        minute.append(y)
        if first is None and sum(len(m) for m in minute) >= 10 * sr:
            first = np.concatenate(minute)[: 10 * sr]
        if sum(len(m) for m in minute) >= 60 * sr:
            m = np.concatenate(minute)
            levels.append(level(m))
            last = m[-10 * sr :]
            minute = []
    assert first is not None and last is not None
    figures["drift"] = {"minutes": args.drift_minutes, "level_db_first_10s": round(level(first), 2),
                        "level_db_last_10s": round(level(last), 2), "centroid_hz_first_10s": round(centroid(first, sr)),
                        "centroid_hz_last_10s": round(centroid(last, sr)),
                        "per_minute_level_range_db": round(max(levels) - min(levels), 2)}  # fmt: skip
    print("speed/drift", figures["realtime_factor_offline"], figures["realtime_factor_live"], figures["drift"],
          file=sys.stderr)  # fmt: skip
    write_result("smf", figures, command="python benchmarks/smf.py " + " ".join(sys.argv[1:]))


def level(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-9))


def centroid(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x[: len(x) // 1024 * 1024].reshape(-1, 1024), axis=-1)).mean(0)
    f = np.fft.rfftfreq(1024, 1 / sr)
    return float((spec * f).sum() / spec.sum())


if __name__ == "__main__":
    main()
