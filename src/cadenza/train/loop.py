"""The one training loop of cadenza, on HF Accelerate.

Every neural model trains here: AdamW, linear warm-up then cosine decay, gradient clipping, bf16 through
Accelerate's mixed precision (on a GPU or a CPU), evaluation every N steps, a progress bar with loss and ETA,
metrics as JSON lines, atomic checkpoints and resume. Models with a generator and a discriminator give each its
own optimizer, learning rate and clipping (`TrainConfig.groups`). One CPU process, or several (DDP over gloo,
or GPUs) with the same code when started by `torchrun --nproc_per_node N` or `accelerate launch`.

The data order is a pure function of (seed, step, rank), and dropout draws of the step alone: a run killed and
resumed from its last checkpoint ends where an uninterrupted run ends. Ctrl-C (or SIGTERM) in a one-process run
stops it after the step under way, with a checkpoint there: no work is lost (a second one stops at once). A resumed
run must keep its schedule; a changed one (more steps, another learning rate) starts a new *segment* only when asked
(`new_segment=True`), and the checkpoints (then the model card) list every segment that made the weights.

    >>> result = train(model, batches, loss_fn, TrainConfig(max_steps=1000), out_dir="runs/x")
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from cadenza.errors import InputError
from cadenza.train.checkpoint import checkpoint_state, latest_checkpoint, load_checkpoint, save_checkpoint

MAIN = "model"  # the name of the optimizer of every parameter no group claims


@dataclass(frozen=True)
class ParamGroup:
    """Parameters with their own optimizer: those whose names start with `prefix` (e.g. "disc." for the
    discriminators of a GAN). None: the value of the `TrainConfig`."""

    name: str
    prefix: str
    lr: float | None = None
    betas: tuple[float, float] | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None


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
    bf16: bool = False  # bfloat16 mixed precision (Accelerate); fast on GPUs and CPUs with AMX, emulated elsewhere
    eval_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    max_seconds: float = 0.0  # stop (with a checkpoint) once this run has trained this long; 0: no limit
    groups: tuple[ParamGroup, ...] = field(default_factory=tuple)  # parameters with optimizers of their own
    keep_best: str = ""  # an evaluation metric, higher is better ("-valid/loss": lower is better): the checkpoint of
    # its best step is never pruned


# Fields that change what a step computes: a resumed run that changes one starts a new segment.
SCHEDULE_FIELDS = ("max_steps", "lr", "min_lr_ratio", "warmup_steps", "weight_decay", "betas", "grad_clip", "bf16",
                   "seed", "groups")  # fmt: skip


class Batches(Protocol):
    """A deterministic batch source: the batch of a step depends only on (step, rank, world size)."""

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]: ...


LossFn = Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]
Clock = Callable[[], float]


@dataclass
class TrainResult:
    step: int
    train_loss: float
    eval: dict[str, float]
    seconds: float  # training wall time to the last step, summed over the runs a resumed run continues
    resumed_from: int | None
    segments: list[dict[str, Any]]  # {"start", "end", "train"}: the schedules that made the weights, in order


def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bfloat16 natively (AMX or AVX512-BF16); elsewhere autocast emulates it
    and is many times slower than fp32 (BENCHMARKS.md: train_bf16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def lr_at(step: int, cfg: TrainConfig, lr: float | None = None) -> float:
    """Learning rate at `step`: linear warm-up to `lr` (default cfg.lr), then cosine decay to lr * min_lr_ratio."""
    peak = cfg.lr if lr is None else lr
    if step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = peak * cfg.min_lr_ratio
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def split_parameters(model: torch.nn.Module, cfg: TrainConfig) -> dict[str, list[torch.nn.Parameter]]:
    """Trainable parameters by optimizer: each group's by name prefix (the first group that matches), the rest
    under MAIN."""
    out: dict[str, list[torch.nn.Parameter]] = {MAIN: [], **{g.name: [] for g in cfg.groups}}
    for name, p in model.named_parameters():
        if p.requires_grad:
            group = next((g.name for g in cfg.groups if name.startswith(g.prefix)), MAIN)
            out[group].append(p)
    return {k: v for k, v in out.items() if v}


def make_optimizer(params: list[torch.nn.Parameter], lr: float, betas: tuple[float, float],
                   weight_decay: float) -> torch.optim.AdamW:  # fmt: skip
    """AdamW with weight decay on matrices only (not on biases, norms or 1-d parameters), as in nanoGPT."""
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


@dataclass
class _Optim:
    optimizer: Any
    params: list[torch.nn.Parameter]
    lr: float
    grad_clip: float


def _optimizers(model: torch.nn.Module, cfg: TrainConfig) -> dict[str, _Optim]:
    groups = {g.name: g for g in cfg.groups}
    out = {}
    for name, params in split_parameters(model, cfg).items():
        g = groups.get(name)

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        lr = pick(g.lr if g else None, cfg.lr)
        opt = make_optimizer(params, lr, tuple(pick(g.betas if g else None, cfg.betas)),  # type: ignore[arg-type]
                             pick(g.weight_decay if g else None, cfg.weight_decay))  # fmt: skip
        out[name] = _Optim(opt, params, lr, pick(g.grad_clip if g else None, cfg.grad_clip))
    return out


def _normalized(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: json.loads(json.dumps(cfg.get(k))) for k in SCHEDULE_FIELDS}


def check_model_config(ckpt: Path, model_config: dict[str, Any] | None) -> None:
    """A checkpoint resumes only into the model it was trained as: weights of the same shapes can belong to
    another network (a dilation, a causal padding), which loading would not notice."""
    saved = checkpoint_state(ckpt).get("model_config")
    if not isinstance(saved, dict) or model_config is None:
        return
    now = json.loads(json.dumps(model_config))
    diff = [d for k in ("model", "codec") if k in saved and k in now for d in _differing(saved[k], now[k], f"{k}.")]
    if diff:  # (the architecture only: the rest of a model_config may hold a schedule that a resume may change)
        raise InputError(ckpt, f"was trained with another model config ({', '.join(diff[:4])} differ): train into a "
                               "new folder, or with the checkpoint's settings")  # fmt: skip


def _differing(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(a.keys() | b.keys()) for d in _differing(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def _segments_on_resume(ckpt: Path, cfg: TrainConfig, new_segment: bool, out: Path) -> list[dict[str, Any]]:
    """The segments a resumed run continues, with a new one when its schedule changed (and that was asked for)."""
    state = checkpoint_state(ckpt)
    step = int(state["step"])
    saved = state.get("train_config", {})
    segments = state.get("segments") or [{"start": 0, "end": step, "train": saved}]
    now = json.loads(json.dumps(asdict(cfg)))
    old_sched, new_sched = _normalized(saved), _normalized(now)
    if old_sched == new_sched:
        return segments
    changed = ", ".join(f"{k} {old_sched[k]} -> {new_sched[k]}" for k in SCHEDULE_FIELDS
                        if old_sched[k] != new_sched[k])  # fmt: skip
    if not new_segment:
        raise InputError(out, f"its checkpoint at step {step} was trained with another schedule ({changed}); "
                              "continue it as a new segment (--new-segment) or train into a new folder")  # fmt: skip
    return [*segments, {"start": step, "end": step, "train": now}]


class StopRequests:
    """Ctrl-C (SIGINT) and SIGTERM, while installed, ask the loop to stop after the step under way instead of
    killing it mid-step (the loop then checkpoints that step); the first one restores the previous handlers, so a
    second one acts at once. Installed only where signals can be caught (the main thread)."""

    def __init__(self, enabled: bool = True) -> None:
        self.requested = False
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequests:
        if self.enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._ask)
        return self

    def _ask(self, signum: int, frame: Any) -> None:
        self.requested = True
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def __exit__(self, *exc: object) -> None:
        self._restore()


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
    new_segment: bool = False,
    progress: bool = True,
    tokens_per_batch: int | None = None,
    clock: Clock = time.perf_counter,
    describe: Callable[[int], str] | None = None,
) -> TrainResult:
    """Train `model` for `cfg.max_steps` steps, checkpointing into `out_dir`.

    Args:
        model: any torch module; `loss_fn(model, batch)` returns a scalar loss. It must call the model's
            forward (`model(...)`), never a method of it, or a DDP-wrapped model will not sync gradients.
        batches: deterministic batch source (see `Batches`).
        loss_fn: computes the training loss of one batch.
        cfg: optimization settings.
        out_dir: checkpoints (`checkpoints/`), `metrics.jsonl` and `train_config.json` go here.
        eval_fn: returns metrics named like "valid/loss"; run every `cfg.eval_every` steps and at the end (the last
            step, or where the time budget stops the run).
        model_config: the model's config as a dict, stored with every checkpoint.
        resume: continue from the latest checkpoint in `out_dir` if there is one.
        new_segment: allow resuming with a changed schedule (recorded as a new segment).
        progress: show a progress bar (main process only).
        tokens_per_batch: if given, throughput is logged as tokens/s.
        clock: seconds, for the time budget and the wall-time figures (tests inject a fake one).
        describe: what the progress bar says of a step besides "train" (e.g. RAVE's training phase).

    Raises:
        InputError: resuming a run whose schedule changed, without `new_segment`.
        KeyboardInterrupt: after Ctrl-C or SIGTERM (one process), once the step under way is checkpointed.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    on_gpu = torch.cuda.is_available()
    if cfg.bf16 and not on_gpu and not cpu_has_native_bf16():
        warnings.warn("bf16 on a CPU without AMX/AVX512-BF16 is emulated and slower than fp32", stacklevel=2)
    out = Path(out_dir)
    accelerator = _accelerator(cpu=not on_gpu, mixed_precision="bf16" if cfg.bf16 else "no")
    rank, world = accelerator.process_index, accelerator.num_processes
    optims = _optimizers(model, cfg)

    start_step = 0
    resumed_from = None
    prior_s = 0.0  # training time of the runs this one resumes
    segments: list[dict[str, Any]] = [{"start": 0, "end": 0, "train": json.loads(json.dumps(asdict(cfg)))}]
    ckpt = latest_checkpoint(out) if resume else None
    if ckpt is not None:
        check_model_config(ckpt, model_config)
        segments = _segments_on_resume(ckpt, cfg, new_segment, out)
        start_step = load_checkpoint(ckpt, model, {k: o.optimizer for k, o in optims.items()})
        resumed_from = start_step
        prior_s = float(checkpoint_state(ckpt).get("elapsed_s", 0.0))
    prepared = accelerator.prepare(model, *(o.optimizer for o in optims.values()))
    model = prepared[0]
    for o, prepared_opt in zip(optims.values(), prepared[1:], strict=True):
        o.optimizer = prepared_opt
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))
        _truncate_metrics(out / "metrics.jsonl", start_step)

    bar = tqdm(total=cfg.max_steps, initial=start_step, desc="train", unit="step", disable=not (progress and main))
    t0 = clock()
    t_log, loss_acc, n_acc = t0, 0.0, 0
    last_loss, last_eval = float("nan"), {}
    best = _best_step(read_metrics(out), cfg.keep_best)
    done = start_step  # steps trained, this run and the ones it resumes
    with StopRequests(enabled=world == 1) as stops:  # several processes: each would stop at its own step
        for step in range(start_step, cfg.max_steps):
            if describe is not None:
                label = f"train {describe(step)}"
                if bar.desc != label:
                    bar.set_description(label)
            for o in optims.values():
                for group in o.optimizer.param_groups:
                    group["lr"] = lr_at(step, cfg, o.lr)
            batch = {k: v.to(accelerator.device) for k, v in batches.batch(step, rank, world).items()}
            torch.manual_seed(cfg.seed * 1_000_003 + step * 64 + rank)  # dropout draws depend on the step alone
            model.train()
            with accelerator.autocast():
                loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower the learning rate")
            for o in optims.values():
                o.optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            for o in optims.values():
                if o.grad_clip > 0:
                    accelerator.clip_grad_norm_(o.params, o.grad_clip)
                o.optimizer.step()
            loss_acc += loss.item()
            n_acc += 1
            done = step + 1
            segments[-1]["end"] = done
            bar.update()
            if done % cfg.log_every == 0 or done == cfg.max_steps:
                last_loss = loss_acc / n_acc
                now = clock()
                record: dict[str, Any] = {"step": done, "train/loss": round(last_loss, 6), "lr": lr_at(step, cfg)}
                if tokens_per_batch and now > t_log:
                    record["tokens_per_s"] = round(tokens_per_batch * n_acc * world / (now - t_log), 1)
                bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr_at(step, cfg):.2e}")
                if main:
                    _append_metrics(out / "metrics.jsonl", record)
                t_log, loss_acc, n_acc = now, 0.0, 0
            out_of_time = _out_of_time(cfg, clock() - t0, accelerator)
            if eval_fn is not None and (done % cfg.eval_every == 0 or done == cfg.max_steps or out_of_time) and main:
                last_eval = _evaluate(accelerator.unwrap_model(model), eval_fn, accelerator)
                _append_metrics(out / "metrics.jsonl", {"step": done, **last_eval})
                bar.write(f"step {done}: " + ", ".join(f"{k} {v:.4f}" for k, v in last_eval.items()))
                score = _best_score(last_eval, cfg.keep_best)
                if score is not None and (best is None or score > best[1]):
                    best = (done, score)
            if done % cfg.checkpoint_every == 0 or done == cfg.max_steps or out_of_time or stops.requested:
                accelerator.wait_for_everyone()
                if main:
                    save_checkpoint(out, done, accelerator.unwrap_model(model),
                                    {k: o.optimizer for k, o in optims.items()}, model_config or {}, asdict(cfg),
                                    elapsed_s=prior_s + clock() - t0, segments=segments,
                                    keep=best[0] if best else None)  # fmt: skip
            if out_of_time:
                bar.write(f"stopping at step {done}: the {cfg.max_seconds:g} s budget is spent")
                break
            if stops.requested:
                break
    bar.close()
    accelerator.wait_for_everyone()
    if stops.requested:
        raise KeyboardInterrupt(f"stopped at step {done}, checkpointed in {out}: the same command resumes it")
    return TrainResult(done, last_loss, last_eval, prior_s + clock() - t0, resumed_from, segments)


def _accelerator(cpu: bool, mixed_precision: str) -> Any:
    """An Accelerator with this run's precision. Accelerate keeps one state per process and refuses another
    precision once set; a process may train fp32 and bf16 runs one after the other, so the state is reset
    (not the process group: distributed runs keep theirs)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision)


def _out_of_time(cfg: TrainConfig, elapsed: float, accelerator: Any) -> bool:
    """Whether the time budget is spent, agreed by every process (the slowest decides), so that no rank goes
    on to a step that the others never reach."""
    if cfg.max_seconds <= 0:
        return False
    spent = torch.tensor([1.0 if elapsed > cfg.max_seconds else 0.0], device=accelerator.device)
    if accelerator.num_processes > 1:
        spent = accelerator.reduce(spent, reduction="sum")
    return bool(spent.item() > 0)


def _evaluate(model: torch.nn.Module, eval_fn: EvalFn, accelerator: Any) -> dict[str, float]:
    model.eval()
    with torch.no_grad(), accelerator.autocast():
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


def _best_score(record: dict[str, Any], name: str) -> float | None:
    """`name`'s value in a metrics record as a score (higher is better): "-valid/loss" reads valid/loss negated."""
    key, sign = (name[1:], -1.0) if name.startswith("-") else (name, 1.0)
    return sign * float(record[key]) if key and key in record else None


def _best_step(metrics: list[dict[str, Any]], name: str) -> tuple[int, float] | None:
    """The step and score of the best `name` logged so far (a resumed run keeps the best of its earlier part)."""
    scored = [(int(m["step"]), score) for m in metrics if (score := _best_score(m, name)) is not None]
    return max(scored, key=lambda s: s[1]) if scored else None


def read_metrics(out_dir: str | Path) -> list[dict[str, Any]]:
    """The JSON-lines metrics of a run."""
    path = Path(out_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def segments_markdown(segments: list[dict[str, Any]], command: str | None = None) -> str:
    """The segments of a run as card lines: steps, and the schedule of each."""
    lines = []
    for s in segments:
        t = s.get("train", {})
        lines.append(f"  - steps {s['start']}-{s['end']}: max_steps {t.get('max_steps')}, lr {t.get('lr')}, warm-up "
                     f"{t.get('warmup_steps')}, batch seed {t.get('seed')}, bf16 {t.get('bf16')}")  # fmt: skip
    if command:
        lines.append(f"  - command of the last segment: `{command}`")
    return "\n".join(lines)
