"""A listening test's results, as ITU-R BS.1534-3 (MUSHRA) and common practice (A/B, MOS) read them.

- Post-screening (MUSHRA): a listener who rates the hidden reference below 90 on more than 15% of the trials is
  excluded; the table says who and why.
- Per condition: the number of ratings, the mean and its 95% confidence interval (Student's t over all ratings of
  the kept listeners), the median.
- Paired tests: for each pair of conditions, the Wilcoxon signed-rank test over the ratings paired by listener and
  trial, with Holm's correction for the number of pairs. A/B: the preference share with a two-sided binomial test
  against 50%.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.listen.design import HIDDEN_REFERENCE, Manifest

SCREEN_SCORE, SCREEN_SHARE = 90.0, 0.15


@dataclass
class Results:
    test: str
    type: str
    listeners: int
    kept: list[str]
    excluded: dict[str, str]
    conditions: dict[str, dict[str, float]] = field(default_factory=dict)
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"test": self.test, "type": self.type, "listeners": self.listeners, "kept": len(self.kept),
                "excluded": self.excluded, "conditions": self.conditions, "pairs": self.pairs}  # fmt: skip


def screen(ratings: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """MUSHRA post-screening: (kept listeners, {excluded listener: why})."""
    kept, excluded = [], {}
    for who in sorted({r["listener"] for r in ratings}):
        ref = [r["score"] for r in ratings if r["listener"] == who and r["condition"] == HIDDEN_REFERENCE]
        low = sum(s < SCREEN_SCORE for s in ref)
        if ref and low / len(ref) > SCREEN_SHARE:
            excluded[who] = f"hidden reference below {SCREEN_SCORE:g} on {low} of {len(ref)} trials"
        else:
            kept.append(who)
    return kept, excluded


def mean_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its `level` confidence interval (Student's t); half-width NaN below 2 values."""
    from scipy import stats

    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        return float(x.mean()) if x.size else float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values."""
    order = np.argsort(pvalues)
    m, adjusted, running = len(pvalues), [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def analyze(manifest: Manifest, ratings: list[dict[str, Any]]) -> Results:
    """The results of one test from its stored ratings."""
    from scipy import stats

    listeners = sorted({r["listener"] for r in ratings})
    kept, excluded = screen(ratings) if manifest.type == "mushra" else (listeners, {})
    rows = [r for r in ratings if r["listener"] in set(kept)]
    res = Results(manifest.name, manifest.type, len(listeners), kept, excluded)
    by = {(r["listener"], r["trial"], r["condition"]): r["score"] for r in rows}
    for cond in manifest.conditions:
        x = np.array([r["score"] for r in rows if r["condition"] == cond], dtype=np.float64)
        mean, half = mean_ci(x)
        res.conditions[cond] = {"n": int(x.size), "mean": mean, "ci95": half,
                                "median": float(np.median(x)) if x.size else float("nan")}  # fmt: skip
    pairs = list(combinations(manifest.conditions, 2))
    pvals: list[float] = []
    for a, b in pairs:
        keys = sorted({(lis, t) for lis, t, c in by if c == a} & {(lis, t) for lis, t, c in by if c == b})
        xa = np.array([by[(*k, a)] for k in keys])
        xb = np.array([by[(*k, b)] for k in keys])
        entry: dict[str, Any] = {"a": a, "b": b, "n": len(keys)}
        if manifest.type == "ab":
            wins = int((xa > xb).sum())
            entry.update(test="binomial", share_a=wins / max(1, len(keys)),
                         p=float(stats.binomtest(wins, len(keys)).pvalue) if keys else float("nan"))  # fmt: skip
        else:
            diff = xa - xb
            entry.update(test="wilcoxon", mean_diff=float(diff.mean()) if keys else float("nan"))
            entry["p"] = float(stats.wilcoxon(xa, xb).pvalue) if keys and np.any(diff != 0) else 1.0
        pvals.append(entry["p"] if np.isfinite(entry["p"]) else 1.0)
        res.pairs.append(entry)
    for entry, p in zip(res.pairs, holm(pvals) if pvals else []):
        entry["p_holm"] = p
    return res


def ratings_csv(ratings: list[dict[str, Any]], excluded: dict[str, str]) -> str:
    """Every rating, one row each, with whether its listener was kept."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["listener", "trial", "condition", "score", "seconds", "plays", "stored", "kept"])
    for r in ratings:
        w.writerow([r["listener"], r["trial"], r["condition"], r["score"], round(r["seconds"], 3), r["plays"],
                    round(r["stored"], 3), int(r["listener"] not in excluded)])  # fmt: skip
    return out.getvalue()


def results_png(res: Results, path: str | Path) -> Path:
    """Mean and 95% confidence interval per condition (MUSHRA's usual figure)."""
    from cadenza.evaluate.plots import _pyplot

    plt = _pyplot()
    names = [c for c, v in res.conditions.items() if v["n"]]
    means = [res.conditions[c]["mean"] for c in names]
    halves = [np.nan_to_num(res.conditions[c]["ci95"]) for c in names]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(names) + 1.5), 3.6))
    ax.errorbar(range(len(names)), means, yerr=halves, fmt="o", capsize=5, color="#234")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    scale = {"mushra": (0, 100), "mos": (1, 5), "ab": (0, 1)}[res.type]
    ax.set_ylim(scale[0] - 0.02 * scale[1], scale[1] * 1.02)
    ax.set_ylabel({"mushra": "score (0-100)", "mos": "opinion score (1-5)", "ab": "preferred share"}[res.type])
    ax.set_title(f"{res.test}: {len(res.kept)} listener(s) kept of {res.listeners}, mean and 95% CI")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def results_markdown(res: Results) -> str:
    lines = [f"# {res.test} ({res.type})", "",
             f"{res.listeners} listener(s), {len(res.kept)} kept after screening.", ""]  # fmt: skip
    for who, why in res.excluded.items():
        lines.append(f"- excluded {who[:8]}...: {why}")
    lines += ["", "| condition | n | mean | 95% CI | median |", "|---|---|---|---|---|"]
    for c, v in res.conditions.items():
        if not v["n"]:
            lines.append(f"| {c} | 0 | – | – | – |")
            continue
        ci = f"±{v['ci95']:.1f}" if v["n"] > 1 else "–"
        lines.append(f"| {c} | {v['n']} | {v['mean']:.1f} | {ci} | {v['median']:.1f} |")
    lines += ["", "| pair | n | test | p (Holm) |", "|---|---|---|---|"]
    for e in res.pairs:
        p = f"{e['p_holm']:.3g}" if e["n"] else "–"
        lines.append(f"| {e['a']} vs {e['b']} | {e['n']} | {e['test']} | {p} |")
    return "\n".join(lines) + "\n"
