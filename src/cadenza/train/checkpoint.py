"""Checkpoints and shipped weights: safetensors + JSON, never pickle; every write atomic.

Layout of a run folder:

    out_dir/checkpoints/step-000200/{model.safetensors, optimizer.safetensors, state.json}
                                    (+ optimizer-NAME.safetensors for each parameter group with its own optimizer)
    out_dir/checkpoints/latest          # the name of the newest complete checkpoint

A checkpoint folder is written under a temporary name and renamed when complete, then `latest` is
replaced atomically, so a run killed at any moment resumes from its last complete checkpoint.
Shipped models (`models/NAME/`) hold `model.safetensors`, `config.json` and `card.md`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from cadenza.errors import InputError
from cadenza.io.files import write_text_atomic

FORMAT_VERSION = 1
T = TypeVar("T")
KEEP_CHECKPOINTS = 2


def _state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # safetensors refuses shared storage (tied weights): store contiguous copies.
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, state in sd["state"].items():
        for name, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{name}"] = value.detach().contiguous().clone()
            else:
                scalars[f"{pid}.{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_file(name: str) -> str:
    return "optimizer.safetensors" if name == "model" else f"optimizer-{name}.safetensors"


def save_checkpoint(
    out_dir: str | Path,
    step: int,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    model_config: dict[str, Any],
    train_config: dict[str, Any],
    elapsed_s: float = 0.0,
    segments: list[dict[str, Any]] | None = None,
    keep: int | None = None,
) -> Path:
    """Write a complete checkpoint for `step` and point `latest` at it; keep the newest two, and the checkpoint of
    step `keep` if there is one (a GAN's best evaluation: its quality wanders, so the newest is not the best).

    `optimizers` maps a name ("model" for the main one) to its optimizer. `elapsed_s` is the training wall time
    up to this step over every run that led here (resumes included); `segments` the schedules of those runs."""
    root = Path(out_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    tmp = root / f".{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file(_state_dict(model), str(tmp / "model.safetensors"))
    meta: dict[str, Any] = {}
    for opt_name, optimizer in optimizers.items():
        opt_tensors, meta[opt_name] = _optimizer_tensors(optimizer)
        save_file(opt_tensors, str(tmp / _optimizer_file(opt_name)))
    state = {
        "format_version": FORMAT_VERSION,
        "step": step,
        "elapsed_s": round(elapsed_s, 1),
        "model_config": model_config,
        "train_config": train_config,
        "segments": segments or [],
        "optimizers": meta,
    }
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_text_atomic(root / "latest", name)
    kept = {f"step-{keep:07d}"} if keep is not None else set()
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-KEEP_CHECKPOINTS]:
        if old.name not in kept:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run folder, or None."""
    root = Path(out_dir) / "checkpoints"
    pointer = root / "latest"
    if pointer.exists():
        path = root / pointer.read_text().strip()
        if (path / "state.json").exists():
            return path
    done = sorted(p for p in root.glob("step-*") if (p / "state.json").exists())
    return done[-1] if done else None


def checkpoint_state(path: str | Path) -> dict[str, Any]:
    """The state.json of a checkpoint folder: step, elapsed_s, train_config, segments, ...

    Raises:
        InputError: unreadable.
    """
    p = Path(path) / "state.json"
    try:
        return dict(json.loads(p.read_text()))
    except (OSError, ValueError) as e:
        raise InputError(p, f"unusable checkpoint ({type(e).__name__})") from None


def load_checkpoint(
    path: str | Path, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer] | None = None
) -> int:
    """Load model (and optimizer) state from a checkpoint folder; returns its step."""
    p = Path(path)
    try:
        state = json.loads((p / "state.json").read_text())
        model.load_state_dict(load_file(str(p / "model.safetensors")))
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(p, f"unusable checkpoint ({type(e).__name__}: {str(e)[:120]})") from None
    metas = state.get("optimizers") or {"model": state.get("optimizer")}  # format 1 had one optimizer
    for name, optimizer in (optimizers or {}).items():
        if name not in metas or not (p / _optimizer_file(name)).exists():
            raise InputError(p, f"has no state for the {name!r} optimizer (trained with other parameter groups)")
        tensors = load_file(str(p / _optimizer_file(name)))
        meta = metas[name]
        opt_state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            pid, field_name = key.split(".", 1)
            opt_state.setdefault(int(pid), {})[field_name] = value
        for key, value in meta["scalars"].items():
            pid, field_name = key.split(".", 1)
            opt_state.setdefault(int(pid), {})[field_name] = value
        try:
            optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
        except ValueError as e:
            raise InputError(p, f"optimizer state does not fit this model ({e})") from None
    return int(state["step"])


def save_model(
    out_dir: str | Path, model: torch.nn.Module, config: dict[str, Any], *, kind: str, card: str, half: bool = False
) -> Path:
    """Write a shippable model folder: model.safetensors, config.json (with kind and format version), card.md.
    `half` stores floating-point tensors as float16 (half the size; loading casts them back to the model's dtype)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".model.safetensors.tmp"
    tensors = _state_dict(model)
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, str(tmp), metadata={"kind": kind, "format_version": str(FORMAT_VERSION)})
    os.replace(tmp, out / "model.safetensors")
    write_text_atomic(
        out / "config.json", json.dumps({"kind": kind, "format_version": FORMAT_VERSION, **config}, indent=2)
    )
    write_text_atomic(out / "card.md", card)
    return out


def load_model_files(model_dir: str | Path, *, kind: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read (config, weights) of a shipped model folder, checking that it holds a model of `kind`."""
    d = Path(model_dir)
    cfg_path, weights = d / "config.json", d / "model.safetensors"
    if not d.is_dir():
        raise InputError(d, "model folder not found")
    if not cfg_path.exists() or not weights.exists():
        from cadenza.registry import kind_of

        try:
            other = kind_of(d)
        except InputError:
            raise InputError(d, "not a cadenza model folder (needs config.json and model.safetensors)") from None
        raise InputError(d, f"holds a {other!r} model, not a {kind!r} model")
    try:
        config = json.loads(cfg_path.read_text())
    except ValueError as e:
        raise InputError(cfg_path, f"corrupt config ({e})") from None
    if config.get("kind") != kind:
        raise InputError(d, f"holds a {config.get('kind', 'unknown')!r} model, not a {kind!r} model")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(d, f"format version {config['format_version']} is newer than this cadenza reads")
    try:
        tensors = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types on corrupt files
        raise InputError(weights, f"corrupt weights ({type(e).__name__}: {str(e)[:100]})") from None
    return config, tensors


def config_from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """A config dataclass from a saved dict: unknown keys (from newer versions) are dropped, lists become tuples
    where the field's default is a tuple (JSON has no tuples), and nested config dataclasses are built too."""
    import typing

    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in values:
            v = values[f.name]
            kind = hints.get(f.name)
            if isinstance(v, dict) and isinstance(kind, type) and dataclasses.is_dataclass(kind):
                v = config_from_dict(kind, v)
            elif isinstance(v, list) and (isinstance(f.default, tuple) or typing.get_origin(kind) is tuple):
                v = tuple(v)
            out[f.name] = v
    return cls(**out)


def load_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], folder: str | Path) -> torch.nn.Module:
    """Load `tensors` into `model` (in eval mode), with a clear error when they do not fit its config."""
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise InputError(folder, f"weights do not match the config ({str(e).splitlines()[0]})") from None
    return model.eval()
