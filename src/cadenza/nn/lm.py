"""What every language model of cadenza shares: the next-token loss, sliding-window evaluation over whole
pieces, and sampling with a KV cache past the context.

The functions take any model whose forward maps ids [B, T] to logits [B, T, V]: cadenza's GPT and LSTMs
(which return `(logits, state)`) and Hugging Face causal LMs (which return an object with `.logits`).

    >>> corpus_nll(model, pieces)["nll"]                  # nats per token over whole pieces
    >>> tokens = sample_cached(model, [BOS], max_new=256, generator=g, constrain=ban_bos)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from cadenza.sample import sample_next


def next_token_logits(model: Any, x: torch.Tensor, phase: torch.Tensor | None = None) -> torch.Tensor:
    """Logits [B, T, V] of the token after each position of x [B, T] (a phase only for models with one)."""
    out = model(x, phase=phase) if phase is not None else model(x)
    if hasattr(out, "logits"):
        return out.logits  # type: ignore[no-any-return]
    return out[0] if isinstance(out, tuple) else out


def lm_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) of batch["y"] [B, T] given batch["x"] [B, T] (and batch["phase"]).

    It calls the model's forward (not a method of it), so that a DDP-wrapped model syncs its gradients.
    """
    logits = next_token_logits(model, batch["x"], batch.get("phase"))
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch["y"].reshape(-1))


def _context_of(model: Any) -> int | None:
    cfg = getattr(model, "cfg", None)
    return getattr(cfg, "block_size", None)


@torch.no_grad()
def sliding_nll(
    model: Any,
    tokens: Sequence[int],
    stride: int | None = None,
    *,
    context: int | None = None,
    phase: Sequence[int] | None = None,
) -> tuple[float, int]:
    """Summed NLL (nats) of tokens[1:] given what precedes each, and the count.

    A sequence longer than the context is scored with sliding windows: each token is predicted from at least
    `stride` tokens of context (default half the context) and at most the whole context.

    Args:
        context: the longest input the model takes (default: `model.cfg.block_size`; None there: any length,
            one pass, as for an LSTM).
        phase: a side input per token (the JSB model's voice), cut into the same windows.
    """
    W = context or _context_of(model) or len(tokens)
    stride = stride or max(1, W // 2)
    x_all = torch.tensor(list(tokens))
    ph_all = torch.tensor(list(phase)) if phase is not None else None
    n_targets = len(tokens) - 1  # target t is tokens[t], predicted from tokens[:t]
    total, count, done, start = 0.0, 0, 0, 0  # targets 1..done are scored
    while done < n_targets:
        end = min(start + W, n_targets)  # inputs tokens[start:end] predict tokens[start + 1:end + 1]
        ph = ph_all[start:end][None] if ph_all is not None else None
        logits = next_token_logits(model, x_all[start:end][None], ph)
        nll = F.cross_entropy(logits[0].float(), x_all[start + 1 : end + 1], reduction="none")
        fresh = nll[done - start :]  # targets an earlier window has not scored
        total, count, done = total + float(fresh.sum()), count + len(fresh), end
        start += stride
    return total, count


@torch.no_grad()
def corpus_nll(
    model: Any,
    pieces: Sequence[Sequence[int]],
    stride: int | None = None,
    *,
    context: int | None = None,
    phase_of: Callable[[int], Sequence[int]] | None = None,
) -> dict[str, float]:
    """Token-weighted NLL over whole pieces, each read from its first token (sliding windows past the context).

    Returns:
        {"nll": nats per token, "bits": bits per token, "tokens": tokens scored, "nats": the summed NLL}.
    """
    model.eval()
    total, count = 0.0, 0
    for seq in pieces:
        t, c = sliding_nll(model, seq, stride, context=context, phase=phase_of(len(seq)) if phase_of else None)
        total, count = total + t, count + c
    nll = total / max(count, 1)
    return {"nll": nll, "bits": nll / math.log(2), "tokens": float(count), "nats": total}


@torch.no_grad()
def sample_cached(
    model: Any,
    tokens: Sequence[int],
    *,
    max_new: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    constrain: Callable[[list[int], torch.Tensor], torch.Tensor] | None = None,
    stop: Callable[[list[int], int], bool] | None = None,
    phase_of: Callable[[int], Sequence[int]] | None = None,
) -> list[int]:
    """Sample up to `max_new` tokens after `tokens` from a GPT with its KV cache.

    Past the context the model continues from a sliding window: the cache is rebuilt from the last half context
    whenever it is full, so generation runs at the cost of one token per step most of the time.

    Args:
        constrain: given the tokens so far and the next-token logits [1, V] (a copy), returns the logits to
            sample from (e.g. with forbidden tokens at -inf).
        stop: given the tokens so far and the drawn token, True ends generation (the token is not kept).
        phase_of: the phase of each of n tokens (models with a period).

    Returns:
        the tokens, the given ones included.
    """
    model.eval()
    out = list(tokens)
    W = model.cfg.block_size
    if len(out) > W:
        raise ValueError(f"a prompt of {len(out)} tokens exceeds the model's context of {W}")
    caches: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    fed = window = 0  # out[window:fed] are in the cache
    for _ in range(max_new):
        if caches is None or len(out) - window > W:  # (re)start from a window of at most half the context
            window = 0 if len(out) <= W else len(out) - W // 2
            caches, fed = None, window
        x = torch.tensor(out[fed:])[None]
        ph = torch.tensor(list(phase_of(len(out)))[fed:])[None] if phase_of else None
        logits, caches = model(x, caches, phase=ph)
        fed = len(out)
        last = logits[:, -1].clone()
        if constrain is not None:
            last = constrain(out, last)
        tok = int(sample_next(last, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)[0])
        if stop is not None and stop(out, tok):
            break
        out.append(tok)
    return out
