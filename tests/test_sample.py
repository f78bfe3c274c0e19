import torch

from cadenza.sample import sample_next, top_k_filter, top_p_filter


def test_top_k_keeps_k() -> None:
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    out = top_k_filter(logits, 2)
    assert torch.isfinite(out).tolist() == [[False, True, True, False]]


def test_top_p_keeps_the_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    out = top_p_filter(probs.log(), 0.75)
    assert torch.isfinite(out).tolist() == [[True, True, False, False]]
    assert torch.isfinite(top_p_filter(probs.log(), 0.1)).sum() == 1  # always at least one


def test_sampling_is_seeded() -> None:
    logits = torch.randn(4, 50)
    a = sample_next(logits, temperature=0.9, top_p=0.9, generator=torch.Generator().manual_seed(1))
    b = sample_next(logits, temperature=0.9, top_p=0.9, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    greedy = sample_next(logits, temperature=1e-4)
    assert torch.equal(greedy, logits.argmax(-1))


def test_typical_filter_keeps_the_tokens_nearest_the_entropy() -> None:
    from cadenza.sample import typical_filter

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))  # entropy 1.14 nats; -log p: 0.69 1.20 1.90 3.00
    kept = torch.isfinite(typical_filter(logits, 0.5))[0].tolist()
    assert kept == [True, True, False, False]  # 0.3 (closest to the entropy), then 0.5 reaches the mass
    assert torch.isfinite(typical_filter(logits, 0.9))[0].tolist() == [True, True, True, False]
    assert torch.equal(typical_filter(logits, 1.0), logits)


def test_classifier_free_guidance_moves_along_the_condition() -> None:
    from cadenza.sample import classifier_free

    c, u = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[1.0, 1.0, -1.0]])
    assert torch.equal(classifier_free(c, u, 1.0), c)  # 1: the conditional model alone
    assert torch.equal(classifier_free(c, u, 0.0), u)  # 0: the unconditional one
    assert torch.equal(classifier_free(c, u, 3.0), torch.tensor([[4.0, -2.0, -1.0]]))  # where they agree, unchanged
