"""Relative attention: the skewed logits equal Shaw et al.'s direct computation; the KV cache stays exact."""

from __future__ import annotations

import torch

from cadenza.nn.gpt import GPT, GPTConfig
from cadenza.nn.relative import relative_logits_naive, relative_logits_offset, relative_logits_skewed, skew


def test_skew_moves_distance_columns_to_key_columns() -> None:
    L = 5
    qe = torch.arange(L * L, dtype=torch.float32).reshape(L, L)  # qe[i, c]: query i, distance c - (L - 1)
    out = skew(qe)
    for i in range(L):
        for j in range(i + 1):
            assert out[i, j] == qe[i, j - i + L - 1]


def test_skewed_equals_naive_on_random_inputs() -> None:
    g = torch.Generator().manual_seed(0)
    for L, M in [(1, 1), (7, 7), (16, 40), (33, 64)]:
        q = torch.randn(2, 3, L, 8, generator=g)
        emb = torch.randn(3, M, 8, generator=g)
        mask = torch.ones(L, L, dtype=torch.bool).tril()
        skewed = relative_logits_skewed(q, emb).masked_fill(~mask, 0.0)
        torch.testing.assert_close(skewed, relative_logits_naive(q, emb))


def test_offset_logits_equal_the_rows_of_the_full_computation() -> None:
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 12, 8, generator=g)
    emb = torch.randn(3, 20, 8, generator=g)
    full = relative_logits_naive(q, emb)
    for past in (0, 5, 11):
        part = relative_logits_offset(q[:, :, past:], emb, past)
        torch.testing.assert_close(part, full[:, :, past:, :])


def _model(**kw: object) -> GPT:
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=20, block_size=32, n_layer=2, n_head=2, n_embd=16, position="relative", **kw)  # type: ignore[arg-type]
    return GPT(cfg).eval()


def test_kv_cache_decoding_matches_full_recomputation() -> None:
    model = _model()
    idx = torch.randint(0, 20, (2, 24), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full, _ = model(idx)
        logits, caches = model(idx[:, :10])  # a prompt in one pass, then one token at a time
        steps = [logits]
        for t in range(10, 24):
            out, caches = model(idx[:, t : t + 1], caches)
            steps.append(out)
        chunked, caches2 = model(idx[:, :16])  # several tokens after a cached prefix
        rest, _ = model(idx[:, 16:], caches2)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(torch.cat([chunked, rest], dim=1), full, atol=1e-5, rtol=1e-4)


def test_relative_model_is_translation_invariant_without_phase() -> None:
    """No absolute positions: a sequence that looks the same from every position (one token repeated) gets the
    same prediction at every position. Each position's keys and values are then identical, so whatever the
    relative terms weigh, attention returns the same vector; only an absolute position (a plausible bug: a
    position embedding left in the relative model) can tell the positions apart, as the absolute model does."""
    seq = torch.full((1, 20), 7)
    with torch.no_grad():
        relative, _ = _model()(seq)
        torch.manual_seed(0)
        absolute, _ = GPT(GPTConfig(vocab_size=20, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()(seq)
    torch.testing.assert_close(relative[0], relative[0, :1].expand(20, -1))
    assert (absolute[0] - absolute[0, :1]).abs().max() > 1e-3


def test_phase_embedding_is_required_when_configured() -> None:
    model = _model(period=4)
    idx = torch.zeros(1, 8, dtype=torch.long)
    phase = torch.arange(8)[None] % 4
    with torch.no_grad():
        logits, _ = model(idx, phase=phase)
    assert logits.shape == (1, 8, 20)
    try:
        model(idx)
    except ValueError as e:
        assert "phase" in str(e)
    else:
        raise AssertionError("a model with a period accepted no phase")
