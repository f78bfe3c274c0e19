"""Procedural sound textures driven by continuous parameters in [0, 1], in the spirit of the Syntex set that
the course's Synthformer (and the Sound Model Factory) train on.

Each kind is a small physical or signal model whose parameters move over the clip along a smooth random
curve (or, with `curve="steps"`, jump and hold, so that the past alone cannot predict the sound), so a model
learns how sound follows control:

| kind | parameter(s) | what it changes |
|---|---|---|
| wind | strength | level and centre frequency of resonant noise, gust depth |
| rain | density | drops per second (100x range) and the level of the hiss under them |
| engine | rate | firing rate (20-100 Hz) and brightness of a combustion pulse train |
| bugs | density | how many crickets chirp at once and how fast |
| fm | index | FM modulation index (0-8): a pure tone that grows a rich spectrum |
| applause | density | claps per second, from a few hands to a crowd |

`make_texture(kind, duration_s, sample_rate, rng)` returns the clip and its parameter curves at
`PARAM_RATE` Hz; `build_textures` writes a dataset folder with a manifest (as `cadenza.audio.datasets`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from cadenza.core.audio import AudioClip
from cadenza.errors import UnknownNameError
from cadenza.io.audio import write_audio
from cadenza.io.files import atomic_folder

PARAM_RATE = 20  # Hz: parameter curves in the manifest
Curves = dict[str, np.ndarray]


def smooth_curve(n: int, rng: np.random.Generator, n_points: int = 4) -> np.ndarray:
    """A random smooth curve in [0, 1] of n samples: cosine interpolation between `n_points + 1` random knots."""
    knots = rng.uniform(0, 1, n_points + 1)
    pos = np.linspace(0, n_points, n)
    i = np.minimum(pos.astype(int), n_points - 1)
    frac = pos - i
    w = (1 - np.cos(np.pi * frac)) / 2
    return knots[i] * (1 - w) + knots[i + 1] * w


def step_curve(n: int, rng: np.random.Generator, n_points: int = 6) -> np.ndarray:
    """A random curve in [0, 1] of n samples that jumps: `n_points` random values, each held over a stretch of
    random length (at least a tenth of the mean), so that the sound changes at once and a model must read its
    parameter, not only its past, to say what comes next."""
    values = rng.uniform(0, 1, n_points)
    lengths = rng.uniform(0.1, 1.0, n_points)
    edges = np.round(np.cumsum(lengths) / lengths.sum() * n).astype(int)
    return values[np.searchsorted(edges, np.arange(n), side="right").clip(max=n_points - 1)]


CurveFn = Callable[[int, np.random.Generator], np.ndarray]
CURVES: dict[str, CurveFn] = {"smooth": smooth_curve, "steps": step_curve}


def _upsample(curve: np.ndarray, n: int) -> np.ndarray:
    return np.interp(np.linspace(0, len(curve) - 1, n), np.arange(len(curve)), curve)


def shaped_noise(envelope: np.ndarray, n: int, rng: np.random.Generator, n_fft: int = 512) -> np.ndarray:
    """White noise shaped by a time-varying magnitude envelope [frames, n_fft // 2 + 1] (STFT filtering)."""
    from scipy.signal import istft, stft

    noise = rng.standard_normal(n)
    _, _, spec = stft(noise, nperseg=n_fft, noverlap=3 * n_fft // 4)
    frames = spec.shape[1]
    env = np.stack([_upsample(envelope[:, b], frames) for b in range(envelope.shape[1])], axis=0)
    _, y = istft(spec * env, nperseg=n_fft, noverlap=3 * n_fft // 4)
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def _bandpass_envelope(freqs: np.ndarray, centre_hz: np.ndarray, q: np.ndarray) -> np.ndarray:
    # A resonance per frame: |H| of a second-order band-pass with the given centre and Q.
    c = centre_hz[:, None]
    ratio = freqs[None, :] / c - c / np.maximum(freqs[None, :], 1.0)
    return 1.0 / np.sqrt(1.0 + (q[:, None] * ratio) ** 2)


def wind(n: int, sr: int, rng: np.random.Generator, curve: CurveFn = smooth_curve) -> tuple[np.ndarray, Curves]:
    frames = max(8, n // (sr // 50))
    strength = curve(frames, rng)
    gust = 1 + (0.2 + 0.5 * strength) * np.sin(2 * np.pi * np.cumsum(rng.uniform(0.1, 0.5, frames)) / 50)
    freqs = np.fft.rfftfreq(512, 1 / sr)
    centre = 150 + 1200 * strength * gust.clip(0.3)
    env = _bandpass_envelope(freqs, centre, 2 + 3 * strength) * (0.05 + strength * gust)[:, None]
    return shaped_noise(env, n, rng), {"strength": strength}


def rain(n: int, sr: int, rng: np.random.Generator, curve: CurveFn = smooth_curve) -> tuple[np.ndarray, Curves]:
    frames = max(8, n // (sr // 50))
    density = curve(frames, rng)
    rate = 5 * 100 ** _upsample(density, n)  # 5 to 500 drops per second
    drops = rng.uniform(size=n) < rate / sr
    y = np.zeros(n)
    for start in np.nonzero(drops)[0].tolist():
        # a drop: a bubble that rings and rises in pitch (Minnaert resonance), 3-15 ms
        dur = int(sr * rng.uniform(0.003, 0.015))
        t = np.arange(min(dur, n - int(start))) / sr
        f = rng.uniform(1500, 5000) * (1 + 40 * t)
        y[start : start + len(t)] += rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t * 400)
    freqs = np.fft.rfftfreq(512, 1 / sr)
    hiss = (freqs / 4000).clip(0.05, 1.0)[None, :] * (0.02 + 0.15 * density)[:, None]
    return y + shaped_noise(hiss, n, rng), {"density": density}


def engine(n: int, sr: int, rng: np.random.Generator, curve: CurveFn = smooth_curve) -> tuple[np.ndarray, Curves]:
    frames = max(8, n // (sr // 50))
    rate = curve(frames, rng)
    f_hz = 20 + 80 * _upsample(rate, n)
    phase = np.cumsum(f_hz) / sr
    frac = phase % 1.0
    pulse = np.exp(-frac * (30 - 15 * _upsample(rate, n)))  # a firing: a sharp attack, a decay
    body = np.sin(2 * np.pi * phase) * 0.3 + np.sin(4 * np.pi * phase) * 0.15
    noise = rng.standard_normal(n) * pulse
    from scipy.signal import lfilter

    rumble = lfilter([0.05], [1, -0.95], noise)  # low-passed combustion noise
    return 0.5 * (pulse - pulse.mean()) + body + 2 * rumble, {"rate": rate}


def bugs(n: int, sr: int, rng: np.random.Generator, curve: CurveFn = smooth_curve) -> tuple[np.ndarray, Curves]:
    frames = max(8, n // (sr // 50))
    density = curve(frames, rng)
    dens = _upsample(density, n)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for k in range(6):  # six crickets; the k-th sings when the density passes k / 6
        carrier = rng.uniform(3500, min(6500, 0.45 * sr))
        chirp_rate = rng.uniform(1.5, 4.0) * (0.5 + dens)
        chirp_phase = np.cumsum(chirp_rate) / sr + rng.uniform()
        in_chirp = (chirp_phase % 1.0) < 0.3
        pulses = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(30, 60) * t)) ** 2
        gate = np.clip((dens - k / 6) * 6, 0, 1)
        y += 0.15 * gate * in_chirp * pulses * np.sin(2 * np.pi * carrier * t + rng.uniform(0, 6.3))
    return y + 0.003 * rng.standard_normal(n), {"density": density}


def fm(n: int, sr: int, rng: np.random.Generator, curve: CurveFn = smooth_curve) -> tuple[np.ndarray, Curves]:
    frames = max(8, n // (sr // 50))
    index = curve(frames, rng)
    carrier = rng.choice([110.0, 146.8, 196.0, 220.0, 261.6])
    ratio = rng.choice([1.0, 1.4, 2.0, 3.5])
    t = np.arange(n) / sr
    idx = 8 * _upsample(index, n)
    y = 0.4 * np.sin(2 * np.pi * carrier * t + idx * np.sin(2 * np.pi * carrier * ratio * t))
    return y, {"index": index}


def applause(n: int, sr: int, rng: np.random.Generator, curve: CurveFn = smooth_curve) -> tuple[np.ndarray, Curves]:
    frames = max(8, n // (sr // 50))
    density = curve(frames, rng)
    rate = 3 * 100 ** _upsample(density, n)  # 3 to 300 claps per second
    claps = np.nonzero(rng.uniform(size=n) < rate / sr)[0]
    y = np.zeros(n)
    from scipy.signal import butter, sosfilt

    for start in claps.tolist():
        dur = min(int(sr * 0.02), n - int(start))
        centre = rng.uniform(800, min(3000, 0.4 * sr))
        sos = butter(2, [centre * 0.6, centre * 1.5], btype="band", fs=sr, output="sos")
        burst = sosfilt(sos, rng.standard_normal(dur)) * np.exp(-np.arange(dur) / (sr * 0.004))
        y[start : start + dur] += rng.uniform(0.2, 0.6) * burst
    return y, {"density": density}


KINDS: dict[str, Callable[..., tuple[np.ndarray, Curves]]] = {
    "wind": wind, "rain": rain, "engine": engine, "bugs": bugs, "fm": fm, "applause": applause,
}  # fmt: skip


def make_texture(kind: str, duration_s: float, sample_rate: int, rng: np.random.Generator, curve: str = "smooth"
                 ) -> tuple[AudioClip, Curves]:  # fmt: skip
    """One texture clip and its parameter curves at `PARAM_RATE` Hz (each in [0, 1]), shaped as `curve` (`CURVES`:
    smooth, or steps that jump).

    The clip is peak-normalized to -6 dBFS only if it would clip; otherwise its level follows the parameters.
    """
    if kind not in KINDS:
        raise UnknownNameError("texture kind", kind, list(KINDS))
    if curve not in CURVES:
        raise UnknownNameError("curve shape", curve, list(CURVES))
    n = round(duration_s * sample_rate)
    y, curves = KINDS[kind](n, sample_rate, rng, CURVES[curve])
    y = y.astype(np.float32)
    peak = float(np.abs(y).max())
    if peak > 0.5:
        y *= 0.5 / peak
    n_param = max(2, round(duration_s * PARAM_RATE))
    return AudioClip(y, sample_rate), {k: _upsample(v, n_param).astype(np.float32) for k, v in curves.items()}


def build_textures(
    kinds: list[str],
    out_dir: str | Path,
    *,
    n_clips: int = 40,
    duration_s: float = 8.0,
    sample_rate: int = 16000,
    seed: int = 0,
    curve: str = "smooth",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Write `n_clips` clips of each kind into a dataset folder (train/valid/test 80/10/10 within each kind: clip
    i is valid when i % 10 == 8, test when i % 10 == 9) with a
    manifest: file, split, kind, duration, sample rate, each parameter's curve and its mean, and a caption. `curve`
    shapes the parameters' curves (`CURVES`)."""
    from cadenza.audio.datasets import write_manifest

    for k in kinds:
        if k not in KINDS:
            raise UnknownNameError("texture kind", k, list(KINDS))
    if curve not in CURVES:
        raise UnknownNameError("curve shape", curve, list(CURVES))
    entries: list[dict[str, Any]] = []
    with atomic_folder(out_dir) as tmp:
        jobs = [(k, i) for k in kinds for i in range(n_clips)]
        for kind, i in tqdm(jobs, desc="textures", unit="clip", disable=not progress):
            rng = np.random.default_rng([seed, zlib.crc32(kind.encode()), i])
            clip, curves = make_texture(kind, duration_s, sample_rate, rng, curve)
            split = "valid" if i % 10 == 8 else "test" if i % 10 == 9 else "train"  # 80/10/10 within each kind
            rel = f"{split}/{kind}-{i:04d}.wav"
            write_audio(clip, tmp / rel)
            means = {k: round(float(v.mean()), 3) for k, v in curves.items()}
            entries.append({
                "file": rel, "split": split, "kind": kind, "duration_s": duration_s, "sample_rate": sample_rate,
                "param_rate": PARAM_RATE, "params": {k: [round(float(x), 3) for x in v] for k, v in curves.items()},
                "param_mean": means, "caption": f"{kind}, " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()),
            })  # fmt: skip
        write_manifest(tmp, entries)
    return entries
