"""Pictures people would rather look at than read: piano rolls and histograms (matplotlib, PNG)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cadenza.core.score import PITCH_CLASS_NAMES, Score
from cadenza.io.files import atomic_path

PART_COLORS = ("#d1495b", "#edae49", "#00798c", "#30638e", "#6a4c93", "#8ac926", "#ff924c", "#595959")


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def piano_roll_png(score: Score, path: str | Path, *, title: str | None = None, width_in: float = 10.0) -> Path:
    """Draw the notes of every part as coloured bars (time in quarters, pitch in MIDI), bar lines in grey."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(width_in, 3.6), dpi=110)
    for i, part in enumerate(score.parts):
        if part.is_drum:  # drum "pitches" are instruments: they do not belong on a pitch axis
            continue
        color = PART_COLORS[i % len(PART_COLORS)]
        bars = [(n.onset, n.duration) for n in part.notes]
        for n, (x, w) in zip(part.notes, bars):
            ax.broken_barh([(x, w * 0.95)], (n.pitch - 0.4, 0.8), facecolors=color)
        ax.plot([], [], color=color, lw=6, label=part.name or f"part {i + 1}")
    for b0, _ in score.bars():
        ax.axvline(b0, color="#cccccc", lw=0.6, zorder=0)
    lo, hi = score.pitch_range()
    ax.set_ylim(lo - 2, hi + (7 if len(score.parts) > 1 else 2))  # room for the legend
    ax.set_xlim(0, score.end)
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("MIDI pitch")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title if title is not None else (score.title or ""))
    if sum(not p.is_drum for p in score.parts) > 1:
        ax.legend(loc="upper right", fontsize=7, ncol=min(4, len(score.parts)), frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def histogram_png(counts: Sequence[float], labels: Sequence[str], path: str | Path, *, title: str = "") -> Path:
    """A bar chart of `counts` labelled by `labels`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8), dpi=110)
    ax.bar(range(len(counts)), counts, color="#00798c")
    ax.set_xticks(range(len(counts)), labels, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def pitch_class_histogram_png(counts: Sequence[float], path: str | Path, *, title: str = "pitch classes") -> Path:
    return histogram_png(counts, PITCH_CLASS_NAMES, path, title=title)


def line_plot_png(
    x: Sequence[float], series: Mapping[str, Sequence[float]], path: str | Path, *, xlabel: str, ylabel: str, title: str
) -> Path:
    """Lines of `series` (name -> values) over `x`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    for name, values in series.items():
        ax.plot(x, values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def convergence_png(log: Sequence[dict[str, float]], path: str | Path, *, title: str = "GA convergence") -> Path:
    """Best and mean fitness per generation of a genetic algorithm's log."""
    gens = [r["generation"] for r in log]
    series = {"best": [r["best"] for r in log], "mean": [r["mean"] for r in log]}
    return line_plot_png(gens, series, path, xlabel="generation", ylabel="fitness", title=title)


def spectrograms_png(
    clips: Sequence[tuple[str, object]],
    path: str | Path,
    *,
    curves: Mapping[str, tuple[Any, Any]] | None = None,
    curve_label: str = "",
    n_mels: int = 96,
) -> Path:
    """Log-mel spectrograms of (title, AudioClip) pairs stacked on one time axis, with an optional panel of curves
    (name -> (times_s, values)) underneath, e.g. the f0 or the control curve that drove a synth. The frequency axis
    is labelled in Hz (on the mel scale) and a colour bar gives the level in dB below each panel's peak."""
    import numpy as np
    import torch

    from cadenza.audio.dsp import _hz_to_mel, mel_spectrogram

    plt = _pyplot()
    rows = len(clips) + (1 if curves else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(10.5, 2.3 * rows), dpi=110, sharex=True, squeeze=False)
    t_max = 0.0
    for ax, (title, clip) in zip(axes[:, 0], clips):
        sr = clip.sample_rate  # type: ignore[attr-defined]
        x = torch.tensor(clip.mono().samples[0])  # type: ignore[attr-defined]
        hop = sr // 100
        mel = mel_spectrogram(x, sr, 1024, hop, n_mels).numpy()
        db = 20 * np.log10(np.maximum(mel, 1e-5))
        db -= db.max()
        dur = len(x) / sr
        t_max = max(t_max, dur)
        top = float(_hz_to_mel(sr / 2))  # the mel bins span 0 .. Nyquist, evenly in mels
        image = ax.imshow(db, origin="lower", aspect="auto", extent=(0, dur, 0, top), vmin=-80, vmax=0,
                          cmap="magma")  # fmt: skip
        ticks_hz = [t for t in (250, 500, 1000, 2000, 4000, 8000, 16000) if t < sr / 2]
        ax.set_yticks([float(_hz_to_mel(t)) for t in ticks_hz])
        ax.set_yticklabels([f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks_hz])
        ax.set_ylabel("Hz")
        ax.set_title(title, fontsize=10, loc="left")
    if curves:
        ax = axes[-1, 0]
        for name, (t, v) in curves.items():
            ax.plot(t, v, label=name)
        ax.set_ylabel(curve_label)
        ax.legend(frameon=False, fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 0].set_xlim(0, t_max)
    fig.tight_layout()
    # one colour bar for every panel (each is scaled to its own peak), so that the time axes stay aligned
    fig.colorbar(image, ax=axes[:, 0].tolist(), pad=0.01, fraction=0.025, label="dB below the panel's peak")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return Path(path)
