"""Sampling from next-token logits: temperature, top-k, top-p (nucleus), typical, and classifier-free guidance. Pure
tensor functions shared by every token model. Holtzman et al. 2020 (top-p), https://arxiv.org/abs/1904.09751;
Meister et al. 2023 (typical sampling, which VampNet uses), https://arxiv.org/abs/2202.00666; Ho & Salimans 2022
(classifier-free guidance), https://arxiv.org/abs/2207.12598
"""

from __future__ import annotations

import torch


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits [..., V] by `temperature` (> 0); 1.0 leaves them unchanged."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits per row [..., V]; the rest become -inf. k <= 0 keeps all."""
    if k <= 0 or k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose probability mass reaches `p` (always at least one)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    sorted_logits = sorted_logits.masked_fill(mass_before >= p, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def typical_filter(logits: torch.Tensor, mass: float) -> torch.Tensor:
    """Keep the tokens whose information (-log p) is closest to the row's entropy, until their probability mass
    reaches `mass` (always at least one); mass >= 1 keeps all."""
    if mass >= 1.0:
        return logits
    logp = torch.log_softmax(logits.float(), dim=-1)
    p = logp.exp()
    entropy = -(p * logp.nan_to_num(neginf=0.0)).sum(-1, keepdim=True)
    surprise = (-logp - entropy).abs()
    order = surprise.argsort(dim=-1)
    mass_before = p.gather(-1, order).cumsum(-1) - p.gather(-1, order)
    drop_sorted = mass_before >= mass
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def classifier_free(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: uncond + scale (cond - uncond). Scale 1 is the conditional model alone, 0 the
    unconditional one, above 1 pushes further along the condition's direction. The token models apply it to
    log-probabilities or logits, the diffusion model to its velocity."""
    return uncond + scale * (cond - uncond)


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row from logits [B, V] -> [B]."""
    filtered = top_p_filter(top_k_filter(apply_temperature(logits.float(), temperature), top_k), top_p)
    probs = torch.softmax(filtered, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
