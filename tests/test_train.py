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
from cadenza.nn.gpt import GPT, GPTConfig, lm_loss
from cadenza.train import (
    RandomWindows,
    ShuffledEpochs,
    TrainConfig,
    latest_checkpoint,
    load_model_files,
    lr_at,
    read_metrics,
    save_model,
    train,
)
from cadenza.train.checkpoint import checkpoint_seconds

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
    batch = RandomWindows(tiny_run.tokens(), 16, 4).batch(0)

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
    # a longer run resumes from step 60 and reports the training time of both runs
    longer = train(model, Fixed(), lm_loss, replace(cfg, max_steps=70), out_dir=tmp_path, progress=False)
    assert longer.resumed_from == 60
    assert longer.seconds >= checkpoint_seconds(tmp_path / "checkpoints" / "step-0000060") > 0


def test_time_budget_stops_with_a_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=16, n_layer=1, n_head=2, n_embd=32))
    data = RandomWindows(tiny_run.tokens(), 16, 4)
    cfg = TrainConfig(max_steps=10_000, lr=1e-3, checkpoint_every=10_000, eval_every=10_000, max_seconds=0.5)
    result = train(model, data, lm_loss, cfg, out_dir=tmp_path, progress=False)
    assert 0 < result.step < 10_000
    ck = latest_checkpoint(tmp_path)
    assert ck is not None and ck.name == f"step-{result.step:07d}"
    again = train(model, data, lm_loss, replace(cfg, max_steps=result.step + 3), out_dir=tmp_path, progress=False)
    assert again.resumed_from == result.step and again.step == result.step + 3


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
