"""The shared training loop: learning, exact resume after a kill, two processes over gloo, artifacts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cadenza.errors import InputError
from cadenza.nn.gpt import GPT, GPTConfig
from cadenza.nn.lm import lm_loss
from cadenza.train import (
    ParamGroup,
    ShuffledEpochs,
    TrainConfig,
    Windows,
    latest_checkpoint,
    load_model_files,
    lr_at,
    read_metrics,
    save_model,
    train,
)
from cadenza.train.checkpoint import checkpoint_state

HELPERS = Path(__file__).parent / "helpers"
sys.path.insert(0, str(HELPERS))
import tiny_run  # noqa: E402


def test_lr_schedule() -> None:
    cfg = TrainConfig(max_steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx(0.55e-3)  # half way down the cosine
    assert lr_at(100, cfg) == pytest.approx(1e-4)


def test_overfits_one_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=32))
    batch = Windows(tiny_run.tokens(), 16, 4).batch(0)

    class Fixed:
        def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
            return batch

    before = lm_loss(model, batch).item()
    cfg = TrainConfig(max_steps=60, lr=1e-2, warmup_steps=5, log_every=10, checkpoint_every=60, eval_every=30)
    result = train(
        model,
        Fixed(),
        lm_loss,
        cfg,
        out_dir=tmp_path,
        progress=False,
        eval_fn=lambda m: {"valid/loss": lm_loss(m, batch).item()},
    )
    assert result.train_loss < before / 3
    metrics = read_metrics(tmp_path)
    assert [m["step"] for m in metrics if "valid/loss" in m] == [30, 60]
    assert (tmp_path / "checkpoints" / "step-0000060" / "model.safetensors").exists()
    # a longer run is another schedule: refused unless asked for as a new segment, which the result lists
    with pytest.raises(InputError, match="another schedule.*max_steps 60 -> 70"):
        train(model, Fixed(), lm_loss, replace(cfg, max_steps=70), out_dir=tmp_path, progress=False)
    longer = train(model, Fixed(), lm_loss, replace(cfg, max_steps=70), out_dir=tmp_path, progress=False,
                   new_segment=True)  # fmt: skip
    assert longer.resumed_from == 60 and longer.step == 70
    assert [(s["start"], s["end"], s["train"]["max_steps"]) for s in longer.segments] == [(0, 60, 60), (60, 70, 70)]
    assert checkpoint_state(latest_checkpoint(tmp_path))["segments"] == longer.segments  # type: ignore[arg-type]
    # it reports the training time of both runs
    assert longer.seconds >= checkpoint_state(tmp_path / "checkpoints" / "step-0000060")["elapsed_s"] > 0


def test_keep_best_keeps_the_checkpoint_of_the_best_evaluation_across_a_resume(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=32))
    data = Windows(tiny_run.tokens(), 16, 4)
    scores = iter([0.2, 0.9, 0.5, 0.1, 0.3, 0.4])  # a wandering metric: best at the second evaluation (step 4)
    cfg = TrainConfig(max_steps=8, lr=1e-3, warmup_steps=1, eval_every=2, checkpoint_every=2, log_every=2,
                      keep_best="valid/score")  # fmt: skip

    def score(m: torch.nn.Module) -> dict[str, float]:
        return {"valid/score": next(scores)}

    train(model, data, lm_loss, replace(cfg, max_steps=6), out_dir=tmp_path, progress=False, eval_fn=score)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == ["step-0000004", "step-0000006"]
    train(model, data, lm_loss, cfg, out_dir=tmp_path, progress=False, eval_fn=score, new_segment=True)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == ["step-0000004", "step-0000006", "step-0000008"]  # the best (read back from metrics) survives
    plain = tmp_path / "plain"
    scores = iter([0.2, 0.9, 0.5, 0.1])
    train(model, data, lm_loss, replace(cfg, keep_best=""), out_dir=plain, progress=False, eval_fn=score)
    assert sorted(p.name for p in (plain / "checkpoints").glob("step-*")) == ["step-0000006", "step-0000008"]
    lowest = tmp_path / "lowest"  # "-valid/loss": lower is better
    losses = iter([3.0, 2.0, 2.5, 2.6])
    train(model, data, lm_loss, replace(cfg, keep_best="-valid/loss"), out_dir=lowest, progress=False,
          eval_fn=lambda m: {"valid/loss": next(losses)})  # fmt: skip
    assert sorted(p.name for p in (lowest / "checkpoints").glob("step-*")) == [f"step-000000{i}" for i in (4, 6, 8)]


class FakeClock:
    """A clock that advances `tick` seconds each time it is read: time budgets tested without the machine's speed."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_time_budget_stops_with_a_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=32))
    data = Windows(tiny_run.tokens(), 16, 4)
    cfg = TrainConfig(max_steps=10_000, lr=1e-3, checkpoint_every=10_000, eval_every=10_000, max_seconds=5.0,
                      log_every=10_000)  # fmt: skip
    result = train(model, data, lm_loss, cfg, out_dir=tmp_path, progress=False, clock=FakeClock(1.0),
                   eval_fn=lambda m: {"valid/score": 1.0})  # fmt: skip
    assert result.step == 6  # one second a step: after step 6 the run has spent 6 s > 5 s
    assert [m["step"] for m in read_metrics(tmp_path) if "valid/score" in m] == [6]  # evaluated where it stopped
    ck = latest_checkpoint(tmp_path)
    assert ck is not None and ck.name == "step-0000006"
    first = checkpoint_state(ck)["elapsed_s"]
    again = train(model, data, lm_loss, cfg, out_dir=tmp_path, progress=False, clock=FakeClock(1.0))
    assert again.resumed_from == 6 and again.step == 12  # the same budget again: six more steps
    assert again.seconds > first + 5.0  # the time of both runs, summed


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_checkpoints_the_step_under_way_and_resume_goes_on_from_it(tmp_path: Path, sig: int) -> None:
    """The signal arrives in the middle of step 3 (inside its loss): the step finishes, is checkpointed, and the
    run stops with KeyboardInterrupt; the handlers are put back; the same call then resumes from step 3."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=32))
    data = Windows(tiny_run.tokens(), 16, 4)
    cfg = TrainConfig(max_steps=8, lr=1e-3, checkpoint_every=100, eval_every=100, log_every=100)
    calls = []

    def loss_once_signalled(m: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), sig)
        return lm_loss(m, batch)

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="stopped at step 3"):
        train(model, data, loss_once_signalled, cfg, out_dir=tmp_path, progress=False)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    ck = latest_checkpoint(tmp_path)
    assert ck is not None and ck.name == "step-0000003"
    again = train(model, data, lm_loss, cfg, out_dir=tmp_path, progress=False)
    assert again.resumed_from == 3 and again.step == 8


def test_resume_with_dropout_ends_where_an_unbroken_run_ends(tmp_path: Path) -> None:
    cfg = GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.2)
    data = Windows(tiny_run.tokens(), 16, 4, seed=2)
    tc = TrainConfig(max_steps=12, lr=3e-3, warmup_steps=2, checkpoint_every=5, eval_every=100)
    torch.manual_seed(0)
    unbroken = GPT(cfg)
    train(unbroken, data, lm_loss, tc, out_dir=tmp_path / "a", progress=False)
    torch.manual_seed(0)
    broken = GPT(cfg)
    stopped = train(broken, data, lm_loss, replace(tc, max_seconds=7.5), out_dir=tmp_path / "b", progress=False,
                    clock=FakeClock(1.0))  # fmt: skip
    assert stopped.step == 7  # stopped mid-way, between two regular checkpoints (5 and 10)
    torch.manual_seed(123)  # a new process: other global random state
    resumed = GPT(cfg)
    result = train(resumed, data, lm_loss, tc, out_dir=tmp_path / "b", progress=False)
    assert result.resumed_from == 7
    for (name, a), (_, b) in zip(sorted(unbroken.state_dict().items()), sorted(resumed.state_dict().items())):
        torch.testing.assert_close(a, b, msg=name)
    # and dropout did act: without it the same run ends elsewhere
    torch.manual_seed(0)
    plain = GPT(replace(cfg, dropout=0.0))
    train(plain, data, lm_loss, tc, out_dir=tmp_path / "c", progress=False)
    assert not torch.allclose(plain.head.weight, unbroken.head.weight)


def test_separate_optimizers_and_bf16(tmp_path: Path) -> None:
    """A generator and a "discriminator" with their own learning rates (the discriminator's is 0: it must not
    move), in bf16 mixed precision."""

    class TwoParts(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gen = torch.nn.Linear(8, 8)
            self.disc = torch.nn.Linear(8, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (self.disc(self.gen(x)) ** 2).mean()

    class Noise:
        def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
            return {"x": torch.randn(16, 8, generator=torch.Generator().manual_seed(step))}

    torch.manual_seed(0)
    model = TwoParts()
    disc_before, gen_before = model.disc.weight.clone(), model.gen.weight.clone()
    tc = TrainConfig(max_steps=6, lr=1e-2, warmup_steps=1, checkpoint_every=3, eval_every=100, bf16=True,
                     groups=(ParamGroup("discriminator", "disc.", lr=0.0, grad_clip=0.5),))  # fmt: skip
    with pytest.warns(UserWarning, match="emulated") if not _native_bf16() else _nothing():
        result = train(model, Noise(), lambda m, b: m(b["x"]), tc, out_dir=tmp_path, progress=False)
    assert result.step == 6 and torch.isfinite(torch.tensor(result.train_loss))
    assert torch.equal(model.disc.weight, disc_before) and not torch.equal(model.gen.weight, gen_before)
    ck = latest_checkpoint(tmp_path)
    assert ck is not None and (ck / "optimizer-discriminator.safetensors").exists()


def _native_bf16() -> bool:
    from cadenza.train.loop import cpu_has_native_bf16

    return torch.cuda.is_available() or cpu_has_native_bf16()


class _nothing:
    def __enter__(self) -> None: ...

    def __exit__(self, *args: object) -> None: ...


def test_killed_run_resumes_where_an_uninterrupted_run_ends(tmp_path: Path) -> None:
    steps = 40
    reference = tiny_run.run(str(tmp_path / "ref"), steps)

    # A real process, killed with SIGKILL once it has written a checkpoint mid-way.
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(HELPERS / "tiny_run.py"), str(run_dir), str(steps), "0.05"])
    deadline = time.time() + 120
    while time.time() < deadline:
        ck = latest_checkpoint(run_dir)
        if ck is not None and ck.name >= "step-0000010":
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = latest_checkpoint(run_dir)
    assert killed_at is not None and killed_at.name < f"step-{steps:07d}", "the run finished before the kill"

    resumed = tiny_run.run(str(run_dir), steps)  # resumes from the last checkpoint
    for (name, a), (_, b) in zip(sorted(reference.state_dict().items()), sorted(resumed.state_dict().items())):
        assert torch.allclose(a, b, atol=1e-6), name
    ref_losses = [m["train/loss"] for m in read_metrics(tmp_path / "ref")]
    res_losses = [m["train/loss"] for m in read_metrics(run_dir)]
    assert res_losses == pytest.approx(ref_losses, abs=1e-5)


def test_two_processes_keep_identical_parameters(tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(HELPERS / "tiny_run.py"),
           str(tmp_path), "10"]  # fmt: skip
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    digests = [json.loads((tmp_path / f"rank{r}.json").read_text())["digest"] for r in (0, 1)]
    assert digests[0] == digests[1]
    untrained = tiny_run.digest(GPT(tiny_run.CFG))
    assert digests[0] != untrained


def test_two_processes_keep_identical_moving_average_codebooks(tmp_path: Path) -> None:
    """DDP averages gradients; moving-average codebooks have none: the quantizer sums its statistics over the
    processes itself (and revives dead codes from the first), so each rank's codebooks stay the same."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(HELPERS / "tiny_vq_run.py"),
           str(tmp_path), "8"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    digests = [json.loads((tmp_path / f"vq_rank{r}.json").read_text())["digest"] for r in (0, 1)]
    assert digests[0] == digests[1]


def test_shuffled_epochs_cover_the_data() -> None:
    data = {"x": torch.arange(20)[:, None]}
    src = ShuffledEpochs(data, batch_size=5, seed=3)
    seen = torch.cat([src.batch(s)["x"] for s in range(4)]).flatten().sort().values
    assert torch.equal(seen, torch.arange(20))
    r0 = torch.cat([src.batch(s, 0, 2)["x"] for s in range(2)]).flatten()
    r1 = torch.cat([src.batch(s, 1, 2)["x"] for s in range(2)]).flatten()
    assert set(r0.tolist()).isdisjoint(r1.tolist())


def test_save_and_load_model(tmp_path: Path) -> None:
    cfg = GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=16)
    model = GPT(cfg)
    save_model(tmp_path / "m", model, {"model": cfg.__dict__}, kind="gpt", card="# test\n")
    config, tensors = load_model_files(tmp_path / "m", kind="gpt")
    other = GPT(GPTConfig(**config["model"]))
    other.load_state_dict(tensors)
    x = torch.randint(0, 16, (2, 8))
    assert torch.equal(model(x)[0], other(x)[0])
    with pytest.raises(InputError, match="not a 'lstm' model"):
        load_model_files(tmp_path / "m", kind="lstm")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"corrupt")
    with pytest.raises(InputError, match="corrupt weights"):
        load_model_files(tmp_path / "m", kind="gpt")


def test_kv_cache_matches_full_recompute() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()
    x = torch.randint(0, 16, (2, 12))
    full, _ = model(x)
    logits, caches = model(x[:, :5])
    steps = [logits]
    for t in range(5, 12):
        logits, caches = model(x[:, t : t + 1], caches)
        steps.append(logits)
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    two, _ = model(x[:, 5:8], model(x[:, :5])[1])  # several new tokens after a cached prefix
    assert torch.allclose(two, full[:, 5:8], atol=1e-5)


def test_resume_refuses_a_checkpoint_of_another_architecture(tmp_path: Path) -> None:
    """Weights of the same shapes can belong to another network: resuming into it must fail, not load."""
    batches = Windows(tiny_run.tokens(), 16, 4)
    cfg = TrainConfig(max_steps=4, lr=1e-3, warmup_steps=1, log_every=2, checkpoint_every=2, eval_every=100)

    def run(steps: int, dilated: bool) -> None:
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=32))
        train(model, batches, lm_loss, replace(cfg, max_steps=steps), out_dir=tmp_path, progress=False,
              model_config={"model": {"dilated": dilated}, "schedule": {"steps": steps}},
              new_segment=True)  # fmt: skip

    run(2, dilated=False)
    run(4, dilated=False)  # the same model with a longer schedule resumes (as a new segment)
    assert checkpoint_state(latest_checkpoint(tmp_path))["step"] == 4  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"another model config \(model.dilated differ"):
        run(6, dilated=True)
