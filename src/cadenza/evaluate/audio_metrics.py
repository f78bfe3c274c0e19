"""Metrics of generated audio, as pure functions of embeddings, class probabilities or pitches.

Each compares a set of generated clips with a set of reference clips through an embedder (`cadenza.audio.embed`):
figures from different embedders are not comparable (fadtk's own sample scores range from 0.46 to 204 by
embedder), so every caller names the embedder beside the figure.

- `frechet_distance` / `fad`: the Fréchet distance between Gaussians fitted to two sets of embeddings (Kilgour et
  al. 2019, https://arxiv.org/abs/1812.08466; the FID of Heusel et al. 2017); the matrix square root through a
  symmetric form that stays real with fewer clips than dimensions, checked as fadtk and pytorch-fid check theirs.
- `fad_inf`: FAD is biased by the sample size; FAD∞ fits FAD against 1/N on subsets and extrapolates to N = ∞
  (Gui et al. 2024, https://arxiv.org/abs/2311.01616; Chong & Forsyth 2020 for FID∞).
- `kad`: the Kernel Audio Distance (Chung et al. 2025, https://arxiv.org/abs/2502.15602): the unbiased squared MMD
  with a Gaussian kernel whose bandwidth is the median pairwise distance of the reference, times 1000; no
  Gaussian assumption, unbiased at any sample size.
- `kl_divergence`: KL between the label distributions of a classifier (audiocraft's KL with PaSST): paired, clip by
  clip, and between the mean distributions of the sets.
- `clap_score`: the mean cosine between each prompt's text embedding and its clip's audio embedding (LAION-CLAP's
  score, as MusicGen reports it).
- `pitch_accuracy`, `pitch_entropy`: GANSynth's measures of pitched notes through a pitch estimator (Engel et al.
  2019, https://arxiv.org/abs/1902.08710).
- `ndb`: the number of statistically different bins (Richardson & Weiss 2018, https://arxiv.org/abs/1805.12462):
  k-means on the reference, then a two-proportion z-test per bin.
- `outliers`: per generated clip, its distance to the nearest reference clip, flagged when beyond what reference
  clips are from each other.
- `bootstrap`: a metric's spread over random subsets of both sets (an interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be [N, D] embeddings, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or Inf")
    return a


def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] (unbiased, N - 1) of embeddings x [N, D]."""
    a = _as_2d(x, "embeddings")
    if len(a) < 2:
        raise ValueError("a covariance needs at least 2 embeddings")
    return a.mean(0), np.cov(a, rowvar=False)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (negative rounding errors clipped to 0)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)): the Fréchet (2-Wasserstein) distance of two Gaussians.

    Tr((S1 S2)^(1/2)) is computed as Tr((S1^(1/2) S2 S1^(1/2))^(1/2)), the same number from a symmetric positive
    semi-definite matrix (its eigenvalues, clipped at 0), which stays real where scipy's `sqrtm` of the product
    turns complex (fewer clips than dimensions: singular covariances). The check fadtk and pytorch-fid make on the
    square root becomes a check on those eigenvalues: one clearly below zero means the inputs are not covariance
    matrices, and is an error."""
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    root = _sqrt_psd(s1)
    inner = root @ s2 @ root
    w = np.linalg.eigvalsh((inner + inner.T) / 2)
    if len(w) and w.min() < -1e-6 * max(1.0, float(np.abs(w).max())):
        raise ValueError(f"the covariance product has a negative eigenvalue ({w.min():.3g}): "
                         "not positive semi-definite, so these are not covariance matrices")  # fmt: skip
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(w, 0, None)).sum())


def fad(generated: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet Audio Distance between two sets of embeddings [N, D] and [M, D] (lower is closer)."""
    return frechet_distance(*gaussian_stats(generated), *gaussian_stats(reference))


def fad_inf(generated: np.ndarray, reference: np.ndarray, *, n_sizes: int = 8, n_draws: int = 3,
            min_size: int | None = None, rng: np.random.Generator | None = None) -> dict[str, Any]:  # fmt: skip
    """FAD∞: FAD of random subsets of the generated set at sizes from `min_size` to all of it, a straight line
    fitted to FAD against 1/N, and its value at 1/N = 0 (Gui et al. 2024). The reference's statistics are fixed.

    Returns:
        {"fad_inf": the intercept, "slope": the fitted slope, "r2": the fit's R², "points": [(N, FAD), ...]}.
    """
    rng = rng or np.random.default_rng(0)
    gen = _as_2d(generated, "generated")
    ref_stats = gaussian_stats(reference)
    n = len(gen)
    lo = min_size or max(2, min(n, max(gen.shape[1] // 4, n // 4)))
    sizes = sorted({int(round(s)) for s in np.linspace(lo, n, n_sizes)})
    points = []
    for size in sizes:
        draws = 1 if size == n else n_draws
        values = [frechet_distance(*gaussian_stats(gen[rng.choice(n, size, replace=False)]), *ref_stats)
                  for _ in range(draws)]  # fmt: skip
        points.append((size, float(np.mean(values))))
    x = np.array([1 / s for s, _ in points])
    y = np.array([v for _, v in points])
    if len(points) < 2:
        return {"fad_inf": float(y[0]), "slope": 0.0, "r2": 1.0, "points": points}
    slope, intercept = np.polyfit(x, y, 1)
    fit = slope * x + intercept
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(((y - fit) ** 2).sum()) / ss if ss > 0 else 1.0
    return {"fad_inf": float(intercept), "slope": float(slope), "r2": r2, "points": points}


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


def median_bandwidth(reference: np.ndarray) -> float:
    """The median pairwise Euclidean distance within a set (the kernel bandwidth KAD uses)."""
    r = _as_2d(reference, "reference")
    d = np.sqrt(_sq_dists(r, r))[np.triu_indices(len(r), k=1)]
    return float(np.median(d)) if len(d) else 1.0


def kad(generated: np.ndarray, reference: np.ndarray, *, bandwidth: float | None = None,
        scale: float = 1000.0) -> float:  # fmt: skip
    """Kernel Audio Distance: the unbiased estimate of MMD² between the two sets with the Gaussian kernel
    k(x, y) = exp(-||x - y||² / (2 h²)), h the median pairwise distance of the reference unless given; times `scale`
    (1000, as kadtk reports it). Near 0 (and possibly a little below: it is unbiased) for sets from one
    distribution.

        MMD²_u = 1/(n(n-1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m-1)) Σ_{i≠j} k(y_i, y_j) - 2/(nm) Σ_{i,j} k(x_i, y_j)
    """
    x, y = _as_2d(generated, "generated"), _as_2d(reference, "reference")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("KAD needs at least 2 clips on each side")
    h = bandwidth or median_bandwidth(y)
    gamma = 1 / (2 * h * h)
    kxx, kyy, kxy = (np.exp(-gamma * _sq_dists(a, b)) for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    xx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(scale * (xx + yy - 2 * kxy.mean()))


def _kl(p: np.ndarray, q: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    p = np.clip(p, eps, 1.0)
    q = np.clip(q, eps, 1.0)
    return (p * (np.log(p) - np.log(q))).sum(-1)


def kl_divergence(generated_probs: np.ndarray, reference_probs: np.ndarray) -> dict[str, float]:
    """KL(reference || generated) over a classifier's class probabilities [N, C], in nats (audiocraft's direction:
    the reference's labels are the target).

    Returns:
        {"kl_set": KL between the mean distributions of the two sets, and, when the sets are paired (same N: clip
        i of each was made from the same prompt or source), "kl_paired": the mean of the per-clip KLs}.
    """
    g, r = np.asarray(generated_probs, np.float64), np.asarray(reference_probs, np.float64)
    out = {"kl_set": float(_kl(r.mean(0), g.mean(0)))}
    if g.shape == r.shape:
        out["kl_paired"] = float(_kl(r, g).mean())
    return out


def clap_score(text_embeddings: np.ndarray, audio_embeddings: np.ndarray) -> float:
    """Mean cosine similarity between each prompt's text embedding and its clip's audio embedding [N, D]."""
    t, a = _as_2d(text_embeddings, "text embeddings"), _as_2d(audio_embeddings, "audio embeddings")
    if t.shape != a.shape:
        raise ValueError(f"{len(t)} prompts for {len(a)} clips: the CLAP score pairs them one to one")
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    return float((t * a).sum(1).mean())


def pitch_accuracy(predicted_midi: np.ndarray, target_midi: np.ndarray) -> float:
    """Share of clips whose estimated pitch (MIDI, rounded) is the pitch they were asked for (GANSynth)."""
    p, t = np.rint(np.asarray(predicted_midi)), np.rint(np.asarray(target_midi))
    return float((p == t).mean())


def pitch_entropy(predicted_midi: np.ndarray) -> float:
    """Entropy (bits) of the histogram of estimated pitches over the set: GANSynth's diversity measure (the real
    data's is the target; a model that plays one pitch scores 0)."""
    _, counts = np.unique(np.rint(np.asarray(predicted_midi)), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def ndb(generated: np.ndarray, reference: np.ndarray, *, k: int = 20, alpha: float = 0.05,
        rng: np.random.Generator | None = None) -> dict[str, float]:  # fmt: skip
    """Number of statistically different bins (Richardson & Weiss 2018): the reference is clustered by k-means into
    `k` bins, each generated clip falls into its nearest bin, and a two-proportion z-test at level `alpha` per bin
    says whether the generated share differs from the reference share.

    Returns:
        {"ndb": bins that differ, "ndb_over_k": their share, "js": the Jensen-Shannon divergence (bits) of the two
        bin histograms}.
    """
    from scipy.cluster.vq import kmeans2
    from scipy.stats import norm

    rng = rng or np.random.default_rng(0)
    g, r = _as_2d(generated, "generated"), _as_2d(reference, "reference")
    k = min(k, len(r))
    centroids, labels_r = kmeans2(r, k, minit="++", seed=rng)
    labels_g = _sq_dists(g, centroids).argmin(1)
    n_r, n_g = len(r), len(g)
    p_r = np.bincount(labels_r, minlength=k) / n_r
    p_g = np.bincount(labels_g, minlength=k) / n_g
    pooled = (p_r * n_r + p_g * n_g) / (n_r + n_g)
    se = np.sqrt(np.maximum(pooled * (1 - pooled) * (1 / n_r + 1 / n_g), 1e-12))
    z = np.abs(p_g - p_r) / se
    different = int((z > norm.ppf(1 - alpha / 2)).sum())
    m = (p_r + p_g) / 2
    js = 0.5 * float(_kl(p_r, m)) + 0.5 * float(_kl(p_g, m))
    return {"ndb": different, "ndb_over_k": different / k, "js": js / math.log(2)}


def outliers(generated: np.ndarray, reference: np.ndarray, *, quantile: float = 0.95) -> dict[str, Any]:
    """Each generated clip's distance to its nearest reference clip, against the same distance among reference
    clips (leave-one-out): a clip farther than the reference's `quantile` is an outlier.

    Returns:
        {"share": the share of outliers, "threshold": that distance, "distances": [per generated clip]}.
    """
    g, r = _as_2d(generated, "generated"), _as_2d(reference, "reference")
    rr = np.sqrt(_sq_dists(r, r))
    np.fill_diagonal(rr, np.inf)
    threshold = float(np.quantile(rr.min(1), quantile))
    d = np.sqrt(_sq_dists(g, r)).min(1)
    return {"share": float((d > threshold).mean()), "threshold": threshold, "distances": d.tolist()}


def bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], generated: np.ndarray, reference: np.ndarray, *,
              n: int = 20, fraction: float = 0.8, level: float = 0.9,
              rng: np.random.Generator | None = None) -> dict[str, float]:  # fmt: skip
    """The metric on the sets themselves, and its `level` interval over `n` random subsets of `fraction` of each set
    (drawn without replacement: a repeated clip would shrink the covariance of FAD and bias KAD)."""
    rng = rng or np.random.default_rng(0)
    g, r = np.asarray(generated), np.asarray(reference)
    ng, nr = max(2, round(fraction * len(g))), max(2, round(fraction * len(r)))
    values = [metric(g[rng.choice(len(g), ng, replace=False)], r[rng.choice(len(r), nr, replace=False)])
              for _ in range(n)]  # fmt: skip
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return {"value": float(metric(g, r)), "low": float(lo), "high": float(hi)}
