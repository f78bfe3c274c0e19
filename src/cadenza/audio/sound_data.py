"""Labelled and captioned audio for the embedders (the CLAP model and the sound classifier): clips of dataset
folders (`cadenza data render`, `cadenza data textures`) in memory, and deterministic batches of random windows.

A clip's label is its instrument (`Violin`, `Flute`, ...) or its texture kind (`rain`, ...); its captions are every
true wording of its facts (`cadenza.audio.captions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from cadenza.audio.audio_tower import FLOOR, AudioTowerConfig, apply_gain, log_mel
from cadenza.audio.captions import all_captions
from cadenza.errors import InputError


@dataclass
class SoundClip:
    audio: np.ndarray  # mono float32 at the loader's sample rate
    entry: dict[str, Any]  # the manifest entry
    folder: str
    mel: torch.Tensor | None = None  # log-mel [n_mels, frames], computed once for training

    @property
    def label(self) -> str:
        return str(self.entry.get("kind") or self.entry["instrument"])


def describe(folders: list[str | Path]) -> str:
    """What dataset folders hold, for a model card: clips, minutes, instruments, SoundFonts, texture kinds."""
    from collections import Counter

    from cadenza.audio.datasets import read_manifest

    parts = []
    for f in folders:
        entries = read_manifest(f)
        minutes = sum(float(e.get("duration_s", 0)) for e in entries) / 60
        kinds = Counter(str(e.get("kind") or e.get("instrument")) for e in entries)
        fonts = sorted({str(e["soundfont"]) for e in entries if e.get("soundfont")})
        what = f"{len(kinds)} {'texture kinds' if 'kind' in entries[0] else 'instruments'}"
        parts.append(f"`{Path(f).name}`: {len(entries)} clips, {minutes:.0f} min, {what}"
                     + (f" through {' and '.join(fonts)}" if fonts else ""))  # fmt: skip
    return "; ".join(parts)


def load_clips(folders: list[str | Path], split: str | list[str], sample_rate: int, *, progress: bool = True
               ) -> list[SoundClip]:  # fmt: skip
    """Every clip of the given split(s) of the dataset folders, mono at `sample_rate`.

    Raises:
        InputError: a folder is not a dataset, or no folder has clips of the split.
    """
    from cadenza.audio.datasets import read_manifest
    from cadenza.io.audio import read_audio

    splits = [split] if isinstance(split, str) else split
    jobs = [(Path(f), e) for f in folders for e in read_manifest(f) if e.get("split") in splits]
    if not jobs:
        raise InputError(", ".join(map(str, folders)), f"no {'/'.join(splits)} clips in these dataset folders")
    return [SoundClip(read_audio(f / e["file"], sample_rate=sample_rate, mono=True).samples[0], e, str(f))
            for f, e in tqdm(jobs, desc=f"audio {'/'.join(splits)}", unit="clip", disable=not progress)]  # fmt: skip


class WindowBatches:
    """Batches of random windows of precomputed log-mel frames, each clip drawn with odds proportional to its length,
    each window at a random gain of -12..0 dB; the batch of a step depends on (seed, step, rank) alone.

    batch["mel"] is [B, n_mels, frames]; with `labels`, batch["label"] [B] holds class indices; with `caption_table`,
    each item also gets one of its clip's captions at random (its sentence embedding, batch["text"] [B, 384]) and
    batch["same"] [B, B] marks items whose captions are the same words."""

    def __init__(self, clips: list[SoundClip], cfg: AudioTowerConfig, batch_size: int, *,
                 labels: list[str] | None = None, caption_table: dict[str, np.ndarray] | None = None,
                 seed: int = 0) -> None:  # fmt: skip
        for c in clips:
            if c.mel is None:
                c.mel = log_mel(c.audio, cfg)
        self.clips, self.frames, self.batch_size, self.seed = clips, cfg.window_frames, batch_size, seed
        lengths = np.array([max(c.mel.shape[-1] if c.mel is not None else 0, 1) for c in clips], dtype=np.float64)
        self.p = lengths / lengths.sum()
        self.labels = {name: i for i, name in enumerate(labels)} if labels else None
        self.captions = [all_captions(c.entry) for c in clips] if caption_table is not None else None
        self.table = caption_table

    def window(self, clip: SoundClip, rng: np.random.Generator) -> torch.Tensor:
        mel = clip.mel
        assert mel is not None
        if mel.shape[-1] <= self.frames:  # pad with silence
            return F.pad(mel, (0, self.frames - mel.shape[-1]), value=float(np.log10(FLOOR)))
        s = int(rng.integers(0, mel.shape[-1] - self.frames))
        return mel[:, s : s + self.frames]

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        idx = rng.choice(len(self.clips), self.batch_size, p=self.p)
        mel = torch.stack([self.window(self.clips[i], rng) for i in idx])
        gain = torch.tensor(rng.uniform(-12, 0, self.batch_size), dtype=torch.float32)[:, None, None]
        out = {"mel": apply_gain(mel, gain)}
        if self.labels is not None:
            out["label"] = torch.tensor([self.labels[self.clips[i].label] for i in idx])
        if self.captions is not None and self.table is not None:
            texts = [self.captions[i][int(rng.integers(len(self.captions[i])))] for i in idx]
            out["text"] = torch.tensor(np.stack([self.table[t] for t in texts]))
            out["same"] = torch.tensor([[a == b for b in texts] for a in texts])
        return out
