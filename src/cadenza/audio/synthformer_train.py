"""Training a Synthformer on a texture dataset (`cadenza data textures`): every clip coded once by the codec (cached
in the run folder by the codec's id), its parameter curves sampled at the codec's frame rate, random windows of
frames as batches, cross-entropy of every codebook, the validation loss on fixed windows of the held-out clips."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.synthformer import Synthformer, SynthformerConfig
from cadenza.errors import InputError
from cadenza.train.loop import TrainConfig


@dataclass
class TokenClip:
    codes: np.ndarray  # [K, T] int16
    params: np.ndarray  # [T, P] float32, every parameter of the model (0 where the class has none)
    kind: str
    file: str


def texture_entries(folder: str | Path) -> list[dict[str, Any]]:
    """The manifest entries of a texture dataset, checked to carry a kind and parameter curves."""
    from cadenza.audio.datasets import read_manifest

    entries = read_manifest(folder)
    if not entries or any("kind" not in e or "params" not in e for e in entries):
        raise InputError(folder, "is not a texture dataset with parameter curves (make one: cadenza data textures)")
    return entries


def model_config(folders: list[str | Path], base: SynthformerConfig) -> SynthformerConfig:
    """The classes and parameters of the datasets, in a config."""
    classes: dict[str, list[str]] = {}
    for f in folders:
        for e in texture_entries(f):
            own = classes.setdefault(e["kind"], [])
            own += [p for p in e["params"] if p not in own]
    kinds = sorted(classes)
    params = sorted({p for ps in classes.values() for p in ps})
    return replace(base, classes=tuple(kinds), params=tuple(params),
                   class_params=tuple(",".join(classes[k]) for k in kinds))  # fmt: skip


def encode_textures(folders: list[str | Path], cfg: SynthformerConfig, codec: Any, split: str, cache: Path | None,
                    progress: bool = True) -> list[TokenClip]:  # fmt: skip
    """Every clip of `split` as codes and per-frame parameters; cached in `cache` (an .npz) when given."""
    from cadenza.io.audio import read_audio

    if cache is not None and cache.exists():
        z = np.load(cache, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return [TokenClip(z[f"codes_{i}"], z[f"params_{i}"], m["kind"], m["file"]) for i, m in enumerate(meta)]
    jobs = [(Path(f), e) for f in folders for e in texture_entries(f) if e["split"] == split]
    if not jobs:
        raise InputError(", ".join(map(str, folders)), f"no {split} clips in these texture datasets")
    out = []
    for folder, e in tqdm(jobs, desc=f"coding {split} clips", unit="clip", disable=not progress):
        x = read_audio(folder / e["file"], sample_rate=codec.sample_rate, mono=True).samples[0]
        if not np.isfinite(x).all():
            raise InputError(folder / e["file"], "holds NaN or infinite samples")
        codes = codec.encode_chunked(torch.tensor(x)[None, None], cfg.n_codebooks)[0].numpy().astype(np.int16)
        n = codes.shape[-1]
        params = np.zeros((n, len(cfg.params)), np.float32)
        for name, curve in e["params"].items():
            c = np.asarray(curve, np.float32)
            t = np.arange(len(c)) / float(e.get("param_rate", 20))
            params[:, cfg.params.index(name)] = np.interp(np.arange(n) / cfg.frame_rate, t, c)
        out.append(TokenClip(codes, params, e["kind"], str(folder / e["file"])))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"codes_{i}": c.codes for i, c in enumerate(out)}
        arrays |= {f"params_{i}": c.params for i, c in enumerate(out)}
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, meta=json.dumps([{"kind": c.kind, "file": c.file} for c in out]), **arrays)  # type: ignore[arg-type]
        tmp.replace(cache)
    return out


def window_batch(model: Synthformer, clips: list[TokenClip], picks: list[tuple[int, int]], n: int
                 ) -> dict[str, torch.Tensor]:  # fmt: skip
    codes = torch.stack([torch.from_numpy(clips[i].codes[:, s : s + n].astype(np.int64)) for i, s in picks])
    cond = torch.stack([model.condition(clips[i].kind, torch.from_numpy(clips[i].params[s : s + n])) for i, s in picks])
    return {"codes": codes, "cond": cond}


class FrameBatches:
    """Random windows of `n` frames, clips drawn in proportion to their length; a function of (seed, step, rank)."""

    def __init__(self, model: Synthformer, clips: list[TokenClip], n: int, batch_size: int, seed: int = 0) -> None:
        self.clips = [c for c in clips if c.codes.shape[-1] > n]
        if not self.clips:
            raise InputError("--data", f"every clip is shorter than the {n}-frame training window")
        lengths = np.array([c.codes.shape[-1] - n for c in self.clips], float)
        self.p = lengths / lengths.sum()
        self.model, self.n, self.batch_size, self.seed = model, n, batch_size, seed

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, rank])
        idx = rng.choice(len(self.clips), self.batch_size, p=self.p)
        picks = [(int(i), int(rng.integers(0, self.clips[i].codes.shape[-1] - self.n))) for i in idx]
        return window_batch(self.model, self.clips, picks, self.n)


class SynthformerTrainer(nn.Module):
    """The model and its loss in one forward (the training loop's contract)."""

    def __init__(self, model: Synthformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.model.loss(codes, cond)[0]


@torch.no_grad()
def validation_loss(model: Synthformer, clips: list[TokenClip], n: int, per_clip: int = 2) -> dict[str, float]:
    """Cross-entropy (nats per code) on fixed windows of the held-out clips: mean and per codebook."""
    model.eval()
    picks = [(i, s) for i, c in enumerate(clips) if c.codes.shape[-1] > n
             for s in np.linspace(0, c.codes.shape[-1] - n, per_clip).astype(int).tolist()]  # fmt: skip
    total, per = [], []
    for a in range(0, len(picks), 16):
        b = window_batch(model, clips, picks[a : a + 16], n)
        loss, per_cb = model.loss(b["codes"], b["cond"])
        total.append(float(loss) * len(picks[a : a + 16]))
        per.append(per_cb * len(picks[a : a + 16]))
    out = {"loss": sum(total) / len(picks)}
    out.update({f"loss_cb{i}": float(v) for i, v in enumerate(torch.stack(per).sum(0) / len(picks))})
    return out


def train_synthformer(folders: list[str | Path], out_dir: str | Path, base: SynthformerConfig, tc: TrainConfig, *,
                      window_frames: int = 192, batch_size: int = 16, init_from: str | None = None,
                      progress: bool = True, new_segment: bool = False
                      ) -> tuple[Synthformer, dict[str, Any]]:  # fmt: skip
    """Code the datasets with the codec (once), train (resumable; from `init_from`'s weights to fine-tune: its
    architecture, classes and codec, with `base`'s dropouts), and measure the validation loss."""
    from cadenza.audio.codec import Codec, model_id
    from cadenza.train.loop import train

    if tc.threads:
        torch.set_num_threads(tc.threads)
    start: Synthformer | None = None
    if init_from is not None:
        start = Synthformer.from_pretrained(init_from)
        base = replace(start.cfg, dropout=base.dropout, token_dropout=base.token_dropout,
                       param_dropout=base.param_dropout, param_features=base.param_features)  # fmt: skip
    codec = Codec.from_pretrained(base.codec)
    if base.n_codebooks > codec.n_codebooks:
        raise InputError(base.codec, f"has {codec.n_codebooks} codebooks, fewer than the {base.n_codebooks} asked")
    cfg = model_config(folders, replace(base, codec_id=model_id(codec), frame_rate=codec.frame_rate,
                                        cardinality=codec.cardinality))  # fmt: skip
    if start is not None and (start.cfg.codec_id, start.cfg.classes, start.cfg.params) != (
            cfg.codec_id, cfg.classes, cfg.params):  # fmt: skip
        raise InputError(init_from or "", "was trained on other classes, parameters or codec than these datasets")
    run = Path(out_dir)
    tag = f"{cfg.codec_id}-{cfg.n_codebooks}"
    train_clips = encode_textures(folders, cfg, codec, "train", run / f"tokens-train-{tag}.npz", progress)
    valid_clips = encode_textures(folders, cfg, codec, "valid", run / f"tokens-valid-{tag}.npz", progress)
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = Synthformer(cfg)
    if start is not None:
        state = start.state_dict()
        w, own = state["cond.0.weight"], model.state_dict()["cond.0.weight"]
        if w.shape != own.shape:  # Fourier features added: their weights start at zero, the model as `start`
            if start.cfg.param_features:
                raise InputError(init_from or "", "has other Fourier features of its parameters than asked")
            state["cond.0.weight"] = torch.cat([w, w.new_zeros(w.shape[0], own.shape[1] - w.shape[1])], dim=1)
        missing, _ = model.load_state_dict(state, strict=False)
        if any(k != "null_params" for k in missing):  # only the parameters' new null may be missing
            raise InputError(init_from or "", f"does not fit this model: no {missing[0]}")
    trainer = SynthformerTrainer(model)
    batches = FrameBatches(model, train_clips, window_frames, batch_size, tc.seed)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        r = validation_loss(m.model, valid_clips, window_frames)  # type: ignore[arg-type]
        return {"valid/loss": r["loss"]}

    result = train(trainer, batches, lambda m, b: m(b["codes"], b["cond"]), tc, out_dir=run, eval_fn=eval_fn,
                   model_config={"synthformer": asdict(cfg), "window_frames": window_frames, "batch_size": batch_size,
                                 "init_from": init_from},
                   progress=progress, new_segment=new_segment,
                   tokens_per_batch=batch_size * window_frames * cfg.n_codebooks)  # fmt: skip
    model.eval()
    v = validation_loss(model, valid_clips, window_frames)
    minutes = sum(c.codes.shape[-1] for c in train_clips) / cfg.frame_rate / 60
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step,
                               "train_minutes_of_audio": round(minutes, 1),
                               "valid_loss": round(v["loss"], 4),
                               "uniform_loss": round(float(np.log(cfg.cardinality)), 4)}  # fmt: skip
    figures.update({f"valid_{k}": round(x, 4) for k, x in v.items() if k.startswith("loss_cb")})
    model.extra = {"segments": result.segments, "window_frames": window_frames, "batch_size": batch_size}
    return model, figures


CARD = """# Synthformer `{name}` (cadenza)

A causal Transformer over the codes of the codec `{codec}` ({n_codebooks} codebooks, {pattern} pattern, {frame_rate:g}
frames/s) that plays {n_classes} sound textures ({classes}) as their parameters move ({params}), after
DACSynthformer (the course's week 4). {n_layer} blocks of width {n_embd} with {n_head} heads, adaptive layer norm on the
class and the parameters of every frame, rotary positions applied once, attention banded to the last {window} steps
(a key/value cache of at most that many steps: constant cost per frame, any length). {n_params:,} parameters.

- Data: {data} ({minutes_audio} min of training audio, coded once by the codec)
- Config: `{config}`
- Training: windows of {window_frames} frames, batch {batch_size}; dropout {dropout:g} on the residual branches,
  token dropout {token_dropout:g} (that share of the input tokens replaced at random, so that the model reads its
  parameters rather than copying its history: Tacotron 2's pre-net dropout), parameter dropout {param_dropout:g} (that
  share of windows trained with a learned null for the parameters: the unconditional branch of `--guidance`){init}
{segments}
- Wall time: {wall:.1f} min in all on {device}

| figure | value |
|---|---|
{figures}

`valid_loss` is the cross-entropy of the held-out clips' codes in nats per code (`uniform_loss`: a model that knows
nothing); `valid_loss_cbK` per codebook. `python benchmarks/synthformer.py` measures how well the sound follows its
parameter, class accuracy, FAD per class and the speed of the cache (BENCHMARKS.md).

    cadenza synthformer play --class rain --param "density=0:0.1,8:0.9" --seconds 8 -o rain.wav
"""
