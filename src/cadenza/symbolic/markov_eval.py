"""Held-out cross-entropy of Markov melody models, in bits per note, by k-fold cross-validation.

The protocol of Pearce & Wiggins (2004) and IDyOM: each melody is a sequence of notes; every note is
predicted from the notes before it in the same melody by a model trained on the other folds; the figure is
the mean of -log2 P over all notes of all folds. Anchor: their best variable-order models reach about
2.3 bits per note for pitch on folk-song and chorale melodies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from cadenza.core.score import Score, ScoreError
from cadenza.symbolic.markov import CourseChain, MarkovConfig, MarkovMelody
from cadenza.symbolic.viewpoints import melody_events

IDYOM_ANCHOR_BITS = 2.3


def _usable(scores: Sequence[Score]) -> list[Score]:
    """Melodies of at least two notes, each source once (the Bach corpus lists some chorales twice)."""
    out, seen = [], set()
    for s in scores:
        if s.source and s.source in seen:
            continue
        seen.add(s.source)
        try:
            if len(melody_events(s, rests=False)) >= 2:
                out.append(s)
        except ScoreError:
            continue
    return out


def cross_validate(
    scores: Sequence[Score], cfg: MarkovConfig | None = None, *, folds: int = 10, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """k-fold cross-entropy of our model (all viewpoints, and the pitch viewpoint alone) and the course chain.

    Returns a JSON-ready dict: {"model": {"bits_per_note", "joint_bits_per_note"}, "pitch_viewpoint_only": ...,
    "course": {"bits_per_note" (None when some note has probability 0), "zero_probability_share",
    "bits_per_note_on_nonzero", ...}, "folds", "pieces", "notes", "config"}.
    """
    cfg = cfg or MarkovConfig()
    pieces = _usable(scores)
    if len(pieces) < folds:
        raise ValueError(f"{len(pieces)} usable melodies is fewer than {folds} folds")
    order = np.random.default_rng(seed).permutation(len(pieces))
    fold_of = np.empty(len(pieces), dtype=int)
    fold_of[order] = np.arange(len(pieces)) % folds
    single = MarkovConfig(order=cfg.order, pitch_viewpoints=("pitch",), rests=cfg.rests, bias=cfg.bias)
    bits: dict[str, list[np.ndarray]] = {"model": [], "model_joint": [], "pitch_only": []}
    course_p: list[np.ndarray] = []
    course_joint_p: list[np.ndarray] = []
    bar = tqdm(total=len(pieces), desc=f"{folds}-fold", unit="melody", disable=not progress)
    for k in range(folds):
        train = [p for p, f in zip(pieces, fold_of) if f != k]
        test = [p for p, f in zip(pieces, fold_of) if f == k]
        model = MarkovMelody(cfg).fit(train)
        pitch_only = MarkovMelody(single).fit(train)
        course = CourseChain().fit(train)
        course_joint = CourseChain(joint=True).fit(train)
        for s in test:
            pitch_bits, dur_bits = model.note_bits(s)
            bits["model"].append(pitch_bits)
            bits["model_joint"].append(pitch_bits + dur_bits)
            bits["pitch_only"].append(pitch_only.log2_probs(s))
            course_p.append(course.probs(s))
            course_joint_p.append(course_joint.probs(s))
            bar.update()
    bar.close()
    cat = {k: np.concatenate(v) for k, v in bits.items()}
    return {
        "model": {
            "bits_per_note": round(float(cat["model"].mean()), 4),
            "joint_bits_per_note": round(float(cat["model_joint"].mean()), 4),
            "viewpoints": list(cfg.pitch_viewpoints),
        },
        "pitch_viewpoint_only": {"bits_per_note": round(float(cat["pitch_only"].mean()), 4)},
        "course": _course_summary(np.concatenate(course_p), np.concatenate(course_joint_p)),
        "folds": folds,
        "pieces": len(pieces),
        "notes": int(cat["model"].size),
        "config": {"order": cfg.order, "rests": cfg.rests, "bias": cfg.bias},
        "anchor": {"idyom_pitch_bits_per_note": IDYOM_ANCHOR_BITS, "source": "Pearce & Wiggins 2004"},
    }


def _course_summary(p: np.ndarray, p_joint: np.ndarray) -> dict[str, Any]:
    def part(x: np.ndarray) -> dict[str, Any]:
        nonzero = x[x > 0]
        zero_share = float((x == 0).mean())
        return {
            # infinite when any held-out note has probability 0 (the course code raises KeyError there)
            "bits_per_note": None if zero_share > 0 else round(float(-np.log2(x).mean()), 4),
            "zero_probability_share": round(zero_share, 5),
            "bits_per_note_on_nonzero": round(float(-np.log2(nonzero).mean()), 4) if nonzero.size else math.nan,
        }

    joint = part(p_joint)
    return {**part(p), "joint": joint}


def compare_corpora(model: MarkovMelody, own: Sequence[Score], other: Sequence[Score]) -> tuple[float, float]:
    """Mean bits per note of the model on held-out tunes of its corpus and on tunes of another corpus."""
    a = np.concatenate([model.log2_probs(s) for s in _usable(own)])
    b = np.concatenate([model.log2_probs(s) for s in _usable(other)])
    return float(a.mean()), float(b.mean())
