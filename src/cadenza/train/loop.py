"""The one training loop of cadenza, on HF Accelerate.

Every neural model trains here: AdamW, linear warm-up then cosine decay, gradient clipping, optional bf16
autocast, evaluation every N steps, a progress bar with loss and ETA, metrics as JSON lines, atomic
checkpoints and `resume`. One CPU process today; several processes (DDP over gloo, or GPUs) with the same
code when started by `torchrun --nproc_per_node N` or `accelerate launch`.

The data order is a pure function of (seed, step, rank): a run killed and resumed from its last
checkpoint sees exactly the batches an uninterrupted run sees.

    >>> result = train(model, batches, loss_fn, TrainConfig(max_steps=1000), out_dir="runs/x")
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from cadenza.train.checkpoint import checkpoint_seconds, latest_checkpoint, load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings shared by every model. Model settings live in each model's own config."""

    max_steps: int = 1000
    lr: float = 3e-4
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # 0 disables clipping
    bf16: bool = False  # bfloat16 autocast on the CPU (fast where the CPU has AMX)
    eval_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    max_seconds: float = 0.0  # stop (with a checkpoint) once this run has trained this long; 0: no limit


class Batches(Protocol):
    """A deterministic batch source: the batch of a step depends only on (step, rank, world size)."""

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]: ...


LossFn = Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]


@dataclass
class TrainResult:
    step: int
    train_loss: float
    eval: dict[str, float]
    seconds: float  # training wall time to the last step, summed over the runs a resumed run continues
    resumed_from: int | None


def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bfloat16 natively (AMX or AVX512-BF16); elsewhere autocast emulates it
    and is many times slower than fp32 (measured 30x slower on an AMD EPYC without AVX512)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate at `step`: linear warm-up to `lr`, then cosine decay to `lr * min_lr_ratio`."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or 1-d parameters), as in nanoGPT."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def train(
    model: torch.nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    cfg: TrainConfig,
    *,
    out_dir: str | Path,
    eval_fn: EvalFn | None = None,
    model_config: dict[str, Any] | None = None,
    resume: bool = True,
    progress: bool = True,
    tokens_per_batch: int | None = None,
) -> TrainResult:
    """Train `model` for `cfg.max_steps` steps, checkpointing into `out_dir`.

    Args:
        model: any torch module; `loss_fn(model, batch)` returns a scalar loss. It must call the model's
            forward (`model(...)`), never a method of it, or a DDP-wrapped model will not sync gradients.
        batches: deterministic batch source (see `Batches`).
        loss_fn: computes the training loss of one batch.
        cfg: optimization settings.
        out_dir: checkpoints (`checkpoints/`), `metrics.jsonl` and `train_config.json` go here.
        eval_fn: returns metrics named like "valid/loss"; run every `cfg.eval_every` steps and at the end.
        model_config: the model's config as a dict, stored with every checkpoint.
        resume: continue from the latest checkpoint in `out_dir` if there is one.
        progress: show a progress bar (main process only).
        tokens_per_batch: if given, throughput is logged as tokens/s.
    """
    from accelerate import Accelerator

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.bf16 and not torch.cuda.is_available() and not cpu_has_native_bf16():
        warnings.warn("bf16 autocast on a CPU without AMX/AVX512-BF16 is emulated and slower than fp32", stacklevel=2)
    out = Path(out_dir)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    rank, world = accelerator.process_index, accelerator.num_processes
    optimizer = make_optimizer(model, cfg)

    start_step = 0
    resumed_from = None
    prior_s = 0.0  # training time of the runs this one resumes
    ckpt = latest_checkpoint(out) if resume else None
    if ckpt is not None:
        start_step = load_checkpoint(ckpt, model, optimizer)
        resumed_from = start_step
        prior_s = checkpoint_seconds(ckpt)
    model, optimizer = accelerator.prepare(model, optimizer)
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))
        _truncate_metrics(out / "metrics.jsonl", start_step)

    bar = tqdm(total=cfg.max_steps, initial=start_step, desc="train", unit="step", disable=not (progress and main))
    t0 = time.perf_counter()
    t_log, loss_acc, n_acc = time.perf_counter(), 0.0, 0
    last_loss, last_eval = float("nan"), {}
    done = start_step  # steps trained, this run and the ones it resumes
    for step in range(start_step, cfg.max_steps):
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = {k: v.to(accelerator.device) for k, v in batches.batch(step, rank, world).items()}
        torch.manual_seed(cfg.seed * 1_000_003 + step * 64 + rank)  # dropout draws depend on the step alone
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16 and accelerator.device.type == "cpu"):
            loss = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if cfg.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        loss_acc += loss.item()
        n_acc += 1
        done = step + 1
        bar.update()
        if done % cfg.log_every == 0 or done == cfg.max_steps:
            last_loss = loss_acc / n_acc
            elapsed = time.perf_counter() - t_log
            record: dict[str, Any] = {"step": done, "train/loss": round(last_loss, 6), "lr": lr}
            if tokens_per_batch:
                record["tokens_per_s"] = round(tokens_per_batch * n_acc * world / elapsed, 1)
            bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}")
            if main:
                _append_metrics(out / "metrics.jsonl", record)
            t_log, loss_acc, n_acc = time.perf_counter(), 0.0, 0
        if eval_fn is not None and (done % cfg.eval_every == 0 or done == cfg.max_steps) and main:
            last_eval = _evaluate(accelerator.unwrap_model(model), eval_fn, cfg)
            _append_metrics(out / "metrics.jsonl", {"step": done, **last_eval})
            bar.write(f"step {done}: " + ", ".join(f"{k} {v:.4f}" for k, v in last_eval.items()))
        out_of_time = cfg.max_seconds > 0 and time.perf_counter() - t0 > cfg.max_seconds
        if done % cfg.checkpoint_every == 0 or done == cfg.max_steps or out_of_time:
            accelerator.wait_for_everyone()
            if main:
                save_checkpoint(out, done, accelerator.unwrap_model(model), optimizer, model_config or {}, asdict(cfg),
                                elapsed_s=prior_s + time.perf_counter() - t0)  # fmt: skip
        if out_of_time:
            bar.write(f"stopping at step {done}: the {cfg.max_seconds:g} s budget is spent")
            break
    bar.close()
    accelerator.wait_for_everyone()
    return TrainResult(done, last_loss, last_eval, prior_s + time.perf_counter() - t0, resumed_from)


def _evaluate(model: torch.nn.Module, eval_fn: EvalFn, cfg: TrainConfig) -> dict[str, float]:
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        metrics = eval_fn(model)
    model.train()
    return {k: float(v) for k, v in metrics.items()}


def _append_metrics(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop the lines logged after the checkpoint, which the resumed run logs again."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep))


def read_metrics(out_dir: str | Path) -> list[dict[str, Any]]:
    """The JSON-lines metrics of a run."""
    path = Path(out_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
