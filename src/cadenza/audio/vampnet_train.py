"""Training VampNet on folders of audio (dataset folders from `cadenza data render`, or a user's own files, to
fine-tune a shipped model): every clip coded once by the codec (cached in the run folder by the codec's id), random
windows of `context` frames, masks from the cosine schedule (a function of the step), the loss on masked tokens."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.vampnet import VampNet, VampNetConfig, dominant_notes
from cadenza.errors import InputError
from cadenza.train.loop import TrainConfig


def encode_folders(folders: list[str | Path], codec: Any, n_codebooks: int, cache: Path | None,
                   progress: bool = True, min_seconds: float = 0.0, tune: bool = False
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """(train, valid) codes [K, T] int16 of every clip (`training_audio`'s split), cached in `cache` (.npz); with
    `tune`, each clip's dominant notes (`dominant_notes`) as one more row: [K + 1, T].

    Raises:
        InputError: NaN in the audio, or less than `min_seconds` of training audio."""
    from cadenza.audio.rave_train import training_audio

    if cache is not None and cache.exists():
        z = np.load(cache, allow_pickle=False)
        n_train = int(z["n_train"])
        clips = [z[f"c{i}"] for i in range(int(z["n"]))]
        return clips[:n_train], clips[n_train:]
    train, valid = training_audio(folders, codec.sample_rate)
    source = ", ".join(map(str, folders))
    for c in train + valid:
        if not np.isfinite(c).all():
            raise InputError(source, "a clip holds NaN or infinite samples")
    seconds = sum(len(c) for c in train) / codec.sample_rate
    if seconds < min_seconds:
        raise InputError(source, f"{seconds:.1f} s of training audio is too little (give at least {min_seconds:g} s)")
    coded = []
    for x in tqdm(train + valid, desc="coding clips", unit="clip", disable=not progress):
        c = codec.encode_chunked(torch.tensor(x)[None, None], n_codebooks)[0].numpy().astype(np.int16)
        if tune:
            c = np.concatenate([c, dominant_notes(x, codec.sample_rate, codec.frame_rate, c.shape[-1])[None]])
        coded.append(c.astype(np.int16))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, n=len(coded), n_train=len(train), **{f"c{i}": c for i, c in enumerate(coded)})  # type: ignore[arg-type]
        tmp.replace(cache)
    return coded[: len(train)], coded[len(train) :]


class CodeWindows:
    """Random windows of `n` frames (clips drawn in proportion to their length) and their training masks; a pure
    function of (seed, step, rank). For a model with `tune_bins`, the clips' last row is the tune, given with each
    batch and dropped (all -1) from a share `tune_dropout` of its windows, so that the model also vamps without it."""

    def __init__(self, model: VampNet, clips: list[np.ndarray], n: int, batch_size: int, seed: int = 0,
                 source: str = "--data", tune_dropout: float = 0.3) -> None:  # fmt: skip
        self.clips = [c for c in clips if c.shape[-1] >= n]
        if not self.clips:
            raise InputError(
                source, f"every clip is shorter than the {n}-frame window ({n / model.cfg.frame_rate:g} s)"
            )
        lengths = np.array([c.shape[-1] - n + 1 for c in self.clips], float)
        self.p = lengths / lengths.sum()
        self.model, self.n, self.batch_size, self.seed = model, n, batch_size, seed
        self.tune_dropout = tune_dropout

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        idx = rng.choice(len(self.clips), self.batch_size, p=self.p)
        starts = [int(rng.integers(0, self.clips[i].shape[-1] - self.n + 1)) for i in idx]
        codes = torch.stack([torch.from_numpy(self.clips[i][:, s : s + self.n].astype(np.int64))
                             for i, s in zip(idx, starts)])  # fmt: skip
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        if not self.model.cfg.tune_bins:
            return {"codes": codes, "mask": self.model.training_mask(tuple(codes.shape), g)}  # type: ignore[arg-type]
        codes, tune = codes[:, :-1], codes[:, -1]
        drop = torch.rand(len(tune), generator=g) < self.tune_dropout
        tune = tune.masked_fill(drop[:, None], -1)
        return {"codes": codes, "mask": self.model.training_mask(tuple(codes.shape), g), "tune": tune}  # type: ignore[arg-type]


class VampNetTrainer(nn.Module):
    def __init__(self, model: VampNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor, mask: torch.Tensor, tune: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.loss(codes, mask, tune)


@torch.no_grad()
def validation_loss(model: VampNet, clips: list[np.ndarray], ratios: tuple[float, ...] = (0.3, 0.6, 0.9),
                    per_clip: int = 2, with_tune: bool = True) -> dict[str, float]:  # fmt: skip
    """Cross-entropy (nats per masked token) of fixed windows of the held-out clips at fixed mask ratios, in all
    (`loss_mask_R`) and per codebook (`loss_mask_R_cbK`: how much the context tells about each codebook). Clips
    with a tune row ([K + 1, T]) are scored with the tune given; `with_tune=False` scores them without it."""
    model.eval()
    n = model.cfg.context
    wins = [torch.from_numpy(c[:, s : s + n].astype(np.int64)) for c in clips if c.shape[-1] >= n
            for s in np.linspace(0, c.shape[-1] - n, per_clip).astype(int).tolist()]  # fmt: skip
    if not wins:
        return {}
    codes = torch.stack(wins)
    tune = None
    if codes.shape[1] > model.cfg.n_codebooks:  # the tune's row
        codes, tune = codes[:, : model.cfg.n_codebooks], codes[:, model.cfg.n_codebooks]
        tune = tune if with_tune else None
    out = {}
    dev = next(model.parameters()).device  # the windows are built on the CPU, the model may be on a GPU
    for r in ratios:
        g = torch.Generator().manual_seed(0)
        mask = torch.rand(codes.shape, generator=g) < r
        mask[:, : model.cfg.n_conditioning] = False
        total, count = torch.zeros(codes.shape[1]), torch.zeros(codes.shape[1])
        losses = []
        for i in range(0, len(codes), 8):
            m = mask[i : i + 8]
            ce = model.token_losses(codes[i : i + 8].to(dev), m.to(dev),
                                    None if tune is None else tune[i : i + 8].to(dev)).cpu()  # fmt: skip
            losses.append(float(ce.sum() / m.sum().clamp_min(1)))
            total, count = total + ce.sum((0, 2)), count + m.sum((0, 2))
        out[f"loss_mask_{r:g}"] = float(np.mean(losses))
        for k in range(model.cfg.n_conditioning, codes.shape[1]):
            out[f"loss_mask_{r:g}_cb{k}"] = float(total[k] / count[k].clamp_min(1))
    out["loss"] = float(np.mean([out[f"loss_mask_{r:g}"] for r in ratios]))
    return out


def train_vampnet(folders: list[str | Path], out_dir: str | Path, base: VampNetConfig, tc: TrainConfig, *,
                  batch_size: int = 8, init_from: str | None = None, progress: bool = True,
                  new_segment: bool = False, tune_dropout: float = 0.3) -> tuple[VampNet, dict[str, Any]]:  # fmt: skip
    """Code the folders with the codec (once), train (resumable; from `init_from`'s weights to fine-tune), measure.
    `base.tune_bins` > 0 adds the tune condition (to a model fine-tuned from one without it too: its weights
    start at zero)."""
    from cadenza.audio.codec import Codec, model_id
    from cadenza.train.loop import train

    if tc.threads:
        torch.set_num_threads(tc.threads)
    source = ", ".join(map(str, folders))
    start: VampNet | None = None
    if init_from is not None:
        start = VampNet.from_pretrained(init_from)
        base = replace(start.cfg, tune_bins=max(start.cfg.tune_bins, base.tune_bins))
    codec = Codec.from_pretrained(base.codec)
    if base.n_codebooks > codec.n_codebooks:
        raise InputError(base.codec, f"has {codec.n_codebooks} codebooks, fewer than the {base.n_codebooks} asked")
    cfg = replace(
        base,
        codec_id=model_id(codec),
        frame_rate=codec.frame_rate,
        cardinality=codec.cardinality,
        code_dim=codec.code_vectors(1).shape[-1] if base.embedding == "codec" else base.code_dim,
    )
    if start is not None and start.cfg.codec_id and start.cfg.codec_id != cfg.codec_id:
        raise InputError(init_from or "", "was trained on another codec's codes")
    run = Path(out_dir)
    tune = cfg.tune_bins > 0
    cache = run / f"tokens-{cfg.codec_id}-{cfg.n_codebooks}{'-tune' if tune else ''}.npz"
    train_codes, valid_codes = encode_folders(folders, codec, cfg.n_codebooks, cache, progress,
                                              min_seconds=4 * cfg.context / cfg.frame_rate, tune=tune)  # fmt: skip
    frames = sum(c.shape[-1] for c in train_codes)
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = VampNet(cfg)
    if start is not None:
        missing, _ = model.load_state_dict(start.state_dict(), strict=False)
        if set(missing) - {"tune.weight"}:
            raise InputError(init_from or "", f"does not hold this model's weights ({', '.join(missing)})")
    elif cfg.embedding == "codec":
        model.use_code_vectors(codec)
    batches = CodeWindows(model, train_codes, cfg.context, batch_size, tc.seed, source, tune_dropout)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        r = validation_loss(m.model, valid_codes)  # type: ignore[arg-type]
        return {"valid/loss": r["loss"]} if r else {}

    def step(m: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return m(b["codes"], b["mask"], b.get("tune"))

    result = train(VampNetTrainer(model), batches, step, tc, out_dir=run,
                   eval_fn=eval_fn, model_config={"vampnet": asdict(cfg), "batch_size": batch_size,
                                                  "init_from": init_from},
                   progress=progress, new_segment=new_segment,
                   tokens_per_batch=batch_size * cfg.context * cfg.n_codebooks)  # fmt: skip
    model.eval()
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step,
                               "train_minutes_of_audio": round(frames / cfg.frame_rate / 60, 1),
                               "uniform_loss": round(float(np.log(cfg.cardinality)), 4)}  # fmt: skip
    figures.update({f"valid_{k}": round(v, 4) for k, v in validation_loss(model, valid_codes).items()})
    if tune:  # the same windows without the tune: what it adds
        figures.update({f"valid_{k}_no_tune": round(v, 4) for k, v in
                        validation_loss(model, valid_codes, with_tune=False).items() if "_cb" not in k})  # fmt: skip
    model.extra = {"segments": result.segments, "batch_size": batch_size, "init_from": init_from}
    return model, figures


def describe_data(folders: list[str | Path]) -> str:
    from cadenza.audio.datasets import MANIFEST

    parts = []
    for f in map(Path, folders):
        if (f / MANIFEST).is_file():
            from cadenza.audio.sound_data import describe

            parts.append(describe([f]))
        else:
            parts.append(f"`{f.name}` (a folder of audio files)")
    return "; ".join(parts)


CARD = """# VampNet `{name}` (cadenza)

A bidirectional masked-token Transformer over the codes of the codec `{codec}` (the first {n_codebooks} codebooks,
{frame_rate:g} frames/s{c2f}), after VampNet (Garcia et al. 2023): {n_layer} blocks of width {n_embd}, {n_head} heads,
rotary positions, windows of {context} frames ({context_s:.2f} s). {n_params:,} parameters. It fills masked codes
by MaskGIT's confidence-ordered sampling: variations (periodic prompts), continuation, inpainting, looping.

- Data: {data} ({minutes_audio} min of training audio, coded once by the codec)
- Config: `{config}`
- Training: batch {batch_size} windows, masks from the cosine schedule, the loss on masked tokens{init}
{segments}
- Wall time: {wall:.1f} min in all on {device}

| figure | value |
|---|---|
{figures}

`valid_loss_mask_R` is the cross-entropy (nats per masked token) of the held-out clips' codes with a share R of the
tokens masked at random (`uniform_loss`: a model that knows nothing). `python benchmarks/vampnet.py` measures
vamped audio against held-out renders as the sampling steps vary, inpainting, and speed (BENCHMARKS.md).

    cadenza vampnet vamp song.wav --prompt periodic:7 --steps 24 -o out.wav
"""


def card_fields(model: VampNet, data: list[str], figures: dict[str, Any]) -> dict[str, Any]:
    cfg = model.cfg
    return {"codec": cfg.codec, "n_codebooks": cfg.n_codebooks, "frame_rate": cfg.frame_rate,
            "c2f": f"; coarse-to-fine: the first {cfg.n_conditioning} given" if cfg.n_conditioning else "",
            "n_layer": cfg.n_layer, "n_embd": cfg.n_embd, "n_head": cfg.n_head, "context": cfg.context,
            "context_s": cfg.context / cfg.frame_rate, "n_params": sum(p.numel() for p in model.parameters()),
            "data": describe_data(list(data)), "minutes_audio": figures["train_minutes_of_audio"],
            "config": json.dumps(asdict(cfg)), "batch_size": model.extra["batch_size"],
            "init": f"; fine-tuned from `{model.extra['init_from']}`" if model.extra.get("init_from") else "",
            }  # fmt: skip
