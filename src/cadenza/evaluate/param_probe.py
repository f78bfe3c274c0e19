"""Reading a texture's parameter back from its audio: a ridge probe over 0.5 s windows of log-mel statistics.

A generator that follows a control (Synthformer, the Sound Model Factory) is measured by what an independent
reader hears: the probe is fitted on real clips of the texture with their known parameter curves, then reads the
parameter from generated audio, and the reading is compared with the curve that was asked for.

    probe = Probe(np.concatenate([probe_features(x, sr) for x in clips]),
                  np.concatenate([curve_windows(c, rate, n) for c, n in ...]))
    following(probe, generated, asked_curves, sr, rate)  # {"r_median": ..., "r_below_0.5": ..., "mae": ...}
"""

from __future__ import annotations

import numpy as np

WIN_S = 0.5


def probe_features(x: np.ndarray, sr: int) -> np.ndarray:
    """[windows, 128]: mean and std over each 0.5 s window of 64-band log-mel frames."""
    from cadenza.audio.audio_tower import AudioTowerConfig, log_mel

    mel = log_mel(x, AudioTowerConfig(sample_rate=sr)).numpy()  # [64, frames] at 100 frames/s
    per = round(WIN_S * 100)
    n = mel.shape[1] // per
    w = mel[:, : n * per].reshape(64, n, per)
    return np.concatenate([w.mean(-1), w.std(-1)], axis=0).T


def curve_windows(curve: np.ndarray, rate: float, n: int) -> np.ndarray:
    """The curve's mean over each of the first n 0.5 s windows (curve sampled at `rate` Hz)."""
    per = round(WIN_S * rate)
    return np.array([curve[i * per : (i + 1) * per].mean() for i in range(n)])


class Probe:
    """Ridge regression from window features to a parameter, standardized features, fitted by closed form."""

    def __init__(self, feats: np.ndarray, target: np.ndarray, alpha: float = 10.0) -> None:
        self.mu, self.sd = feats.mean(0), feats.std(0) + 1e-6
        f = (feats - self.mu) / self.sd
        a = f.T @ f + alpha * np.eye(f.shape[1])
        self.w = np.linalg.solve(a, f.T @ (target - target.mean()))
        self.b = target.mean()

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self.mu) / self.sd) @ self.w + self.b


def following(probe: Probe, audio: list[np.ndarray], curves: list[np.ndarray], sr: int, rate: float
              ) -> dict[str, float]:  # fmt: skip
    """How well each clip follows its curve: the median over clips of the correlation between the probe's reading
    and the curve (with the share of clips below 0.5: the gross failures), the same against another clip's curve
    (the control), and the mean absolute error of the reading clipped to [0, 1]."""
    rs, shuffled, maes = [], [], []
    for i, (x, c) in enumerate(zip(audio, curves, strict=True)):
        f = probe_features(x, sr)
        got = probe(f)
        want = curve_windows(c, rate, len(f))
        other = curve_windows(curves[(i + 1) % len(curves)], rate, len(f))
        rs.append(np.corrcoef(got, want)[0, 1] if want.std() > 1e-3 else np.nan)
        shuffled.append(np.corrcoef(got, other)[0, 1] if other.std() > 1e-3 else np.nan)
        maes.append(np.abs(np.clip(got, 0, 1) - want).mean())
    r = np.array(rs)
    gross = float(np.mean(r[~np.isnan(r)] < 0.5))
    return {
        "r_median": round(float(np.nanmedian(r)), 3),
        "r_below_0.5": round(gross, 3),
        "r_shuffled_median": round(float(np.nanmedian(shuffled)), 3),
        "mae": round(float(np.mean(maes)), 3),
    }
