"""Training the latent diffusion model on captioned audio (the same folders as text-to-music): every clip's codec
latent and melody computed once (cached in the run folder by the codec's id), the per-channel statistics of the
training latents fixed in the config, random windows with freshly worded captions, prompt and melody dropped at
random."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.latent_diffusion import LatentDiffusion, LatentDiffusionConfig
from cadenza.audio.text2music import chroma_onehot, encode_text, melody_bins
from cadenza.audio.text2music_train import CaptionBatches, caption_entries, caption_of
from cadenza.errors import InputError
from cadenza.train.loop import TrainConfig


@dataclass
class LatentClip:
    latent: np.ndarray  # [D, T] float16
    melody: np.ndarray  # [T] int8
    entry: dict[str, Any]


def encode_latents(folders: list[str | Path], codec: Any, split: str, cache: Path | None,
                   progress: bool = True) -> list[LatentClip]:  # fmt: skip
    """Every clip of `split` as its codec latent and melody bins; cached in `cache` (an .npz) when given."""
    from cadenza.io.audio import read_audio

    if cache is not None and cache.exists():
        z = np.load(cache, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return [LatentClip(z[f"latent_{i}"], z[f"melody_{i}"], m) for i, m in enumerate(meta)]
    jobs = [(Path(f), e) for f in folders for e in caption_entries(f) if e["split"] == split]
    if not jobs:
        raise InputError(", ".join(map(str, folders)), f"no {split} clips to train on")
    out = []
    for folder, e in tqdm(jobs, desc=f"latents of {split} clips", unit="clip", disable=not progress):
        path = folder / e["file"]
        x = read_audio(path, sample_rate=codec.sample_rate, mono=True).samples[0]
        if not np.isfinite(x).all():
            raise InputError(path, "holds NaN or infinite samples")
        with torch.no_grad():
            lat = codec.analysis(codec.pad_to_frames(torch.tensor(x)[None, None]))[0].numpy().astype(np.float16)
        bins = melody_bins(x, codec.sample_rate, codec.frame_rate, lat.shape[-1]).astype(np.int8)
        out.append(LatentClip(lat, bins, {**e, "file": str(path)}))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"latent_{i}": c.latent for i, c in enumerate(out)}
        arrays |= {f"melody_{i}": c.melody for i, c in enumerate(out)}
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, meta=json.dumps([c.entry for c in out]), **arrays)  # type: ignore[arg-type]
        tmp.replace(cache)
    return out


def latent_stats(clips: list[LatentClip]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of the training latents."""
    z = np.concatenate([c.latent.astype(np.float32) for c in clips], axis=1)
    return tuple(round(float(v), 5) for v in z.mean(1)), tuple(round(float(v), 5) for v in z.std(1) + 1e-5)


def make_batch(model: LatentDiffusion, clips: list[LatentClip], picks: list[tuple[int, int]], n: int,
               captions: list[str], drop_text: np.ndarray, drop_melody: np.ndarray) -> dict[str, Any]:  # fmt: skip
    z = torch.stack([torch.from_numpy(clips[i].latent[:, s : s + n].astype(np.float32)) for i, s in picks])
    chroma = torch.stack([chroma_onehot(clips[i].melody[s : s + n]) for i, s in picks])
    chroma[torch.from_numpy(drop_melody)] = 0.0
    text, _ = encode_text(captions, model.cfg.max_text_tokens)
    return {"z": z, "text": text.dropped(torch.from_numpy(drop_text)), "chroma": chroma}


class DiffusionTrainer(nn.Module):
    def __init__(self, model: LatentDiffusion) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, text: Any, chroma: torch.Tensor) -> torch.Tensor:
        return self.model.loss(z, text, chroma)


@torch.no_grad()
def validation_loss(model: LatentDiffusion, clips: list[LatentClip], n: int, per_clip: int = 2) -> dict[str, float]:
    """The v-prediction loss of fixed windows of the held-out clips at fixed noise levels (a seeded draw), with their
    canonical caption, without a prompt and with another clip's caption."""
    model.eval()
    picks = [(i, s) for i, c in enumerate(clips) if c.latent.shape[-1] > n
             for s in np.linspace(0, c.latent.shape[-1] - n, per_clip).astype(int).tolist()]  # fmt: skip
    if not picks:
        raise InputError("--data", f"every held-out clip is shorter than the {n}-frame window")
    own = [caption_of(clips[i].entry, None) for i, _ in picks]
    shuffled = own[len(own) // 2 :] + own[: len(own) // 2]
    none, everything = np.zeros(len(picks), bool), np.ones(len(picks), bool)
    variants = {"loss": (own, none), "loss_no_text": (own, everything), "loss_shuffled_text": (shuffled, none)}
    out: dict[str, float] = {}
    for name, (caps, drop_text) in variants.items():
        g = torch.Generator().manual_seed(0)  # the same noise and levels for every variant
        total = 0.0
        for a in range(0, len(picks), 16):
            sl = slice(a, a + 16)
            b = make_batch(model, clips, picks[sl], n, caps[sl], drop_text[sl], everything[sl])
            total += float(model.loss(b["z"], b["text"], b["chroma"], generator=g)) * len(picks[sl])
        out[name] = total / len(picks)
    return out


def train_latent_diffusion(folders: list[str | Path], out_dir: str | Path, base: LatentDiffusionConfig,
                           tc: TrainConfig, *, window_frames: int = 250, batch_size: int = 16,
                           init_from: str | None = None, progress: bool = True,
                           new_segment: bool = False) -> tuple[LatentDiffusion, dict[str, Any]]:  # fmt: skip
    """Encode the folders' latents (once), fix their statistics, train (resumable), measure."""
    from cadenza.audio.codec import Codec, model_id
    from cadenza.train.loop import train

    if tc.threads:
        torch.set_num_threads(tc.threads)
    start: LatentDiffusion | None = None
    if init_from is not None:
        start = LatentDiffusion.from_pretrained(init_from)
        base = start.cfg
    for f in folders:
        caption_entries(f)
    codec = Codec.from_pretrained(base.codec)
    cfg = replace(base, codec_id=model_id(codec), frame_rate=codec.frame_rate, latent_dim=codec.cfg.latent_dim)
    if start is not None and start.cfg.codec_id and start.cfg.codec_id != cfg.codec_id:
        raise InputError(init_from or "", "was trained on another codec's latents")
    run = Path(out_dir)
    train_clips = encode_latents(folders, codec, "train", run / f"latents-train-{cfg.codec_id}.npz", progress)
    valid_clips = encode_latents(folders, codec, "valid", run / f"latents-valid-{cfg.codec_id}.npz", progress)
    if start is None:
        mean, std = latent_stats(train_clips)
        cfg = replace(cfg, latent_mean=mean, latent_std=std)
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = LatentDiffusion(cfg)
    if start is not None:
        model.load_state_dict(start.state_dict())
    batches = CaptionBatches(model, train_clips, window_frames, batch_size, tc.seed, make=make_batch)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {f"valid/{k}": v for k, v in validation_loss(m.model, valid_clips, window_frames).items()}  # type: ignore[arg-type]

    result = train(DiffusionTrainer(model), batches, lambda m, b: m(b["z"], b["text"], b["chroma"]), tc, out_dir=run,
                   eval_fn=eval_fn,
                   model_config={"latent_diffusion": asdict(cfg), "window_frames": window_frames,
                                 "batch_size": batch_size, "init_from": init_from},
                   progress=progress, new_segment=new_segment,
                   tokens_per_batch=batch_size * window_frames)  # fmt: skip
    model.eval()
    v = validation_loss(model, valid_clips, window_frames)
    minutes = sum(c.latent.shape[-1] for c in train_clips) / cfg.frame_rate / 60
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step,
                               "train_minutes_of_audio": round(minutes, 1),
                               "train_clips": len(train_clips)}  # fmt: skip
    figures.update({f"valid_{k}": round(x, 4) for k, x in v.items()})
    model.extra = {"segments": result.segments, "window_frames": window_frames, "batch_size": batch_size,
                   "init_from": init_from}  # fmt: skip
    return model, figures


CARD = """# Latent diffusion `{name}` (cadenza)

A text-conditioned diffusion model over the continuous latent of the codec `{codec}` ({latent_dim} channels,
{frame_rate:g} frames/s, normalized per channel by the training statistics): {n_layer} DiT blocks of width {n_embd}
with {n_head} heads (bidirectional self-attention with rotary positions, adaLN-zero on the noise level and the pooled
prompt, cross-attention to the frozen all-MiniLM-L6-v2's token embeddings), melody by the dominant chroma bin per frame;
cosine schedule, v-prediction, a deterministic DDIM sampler; prompt dropped on {text_dropout:.0%} of training windows
(classifier-free guidance), melody on {melody_dropout:.0%}. {n_params:,} parameters.

- Data: {data} ({minutes_audio} min of training audio), captions worded afresh for every window
- Config: `{config}`
- Training: windows of {window_frames} frames, batch {batch_size}
{segments}
- Wall time: {wall:.1f} min in all on {device}

| figure | value |
|---|---|
{figures}

`valid_loss` is the v-prediction mean squared error on held-out windows at fixed noise draws with their own caption;
`valid_loss_no_text` without a prompt, `valid_loss_shuffled_text` with another clip's caption.
`python benchmarks/text2music.py` compares it with the token model on the same prompts (BENCHMARKS.md).

    cadenza latent-diffusion generate "a slow cello melody in D minor" --seconds 8 -o cello.wav
    cadenza latent-diffusion edit tune.wav "a cello melody" --strength 0.6 -o cello.wav
"""
