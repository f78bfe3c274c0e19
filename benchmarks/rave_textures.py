"""RAVE on sound textures, in one run beside the codec: does the resynthesis of textures it never heard keep what
the texture's parameter does to the sound, how far is it from the real clips, and does the prior make textures.

usage: python benchmarks/rave_textures.py [--model rave-textures] [--clips 4] [--seconds 6]
                                         [--compare OTHER_RAVE_FOLDER ...]

Held-out data: fresh clips of the six procedural textures (`cadenza.audio.textures`, seed 1001: neither the
models nor the sound classifier heard them; the models trained on seed 0), `--clips` per kind, each with its known
parameter curve. A parameter probe per kind (`cadenza.evaluate.param_probe`, ridge over 0.5 s windows of log-mel
statistics) is fitted on 16 other fresh clips per kind (seed 1000).

Arms: `real` (the clips), each RAVE's resynthesis from its posterior means (`--model` and every `--compare`), and
the codec at 6 kbps (`--codec`, default codec-vocos: the token models' base, for scale).

Measures, per kind and averaged:
- following: the probe reads the parameter from each arm's audio; the median over clips of Pearson r against the
  clip's curve, and the share of clips below r 0.5 (gross failures); real clips score the probe's own ceiling.
- mel distance (DAC's) and multi-scale spectral distance to the input; loudness error (mean |dB| of A-weighted
  loudness, frames above -60 dB).
- class accuracy through cadenza's sound classifier, and FAD / KAD (classifier embedder, 2 s windows) of all
  kinds pooled against the real clips.
- the prior (each RAVE with one): `--prior-clips` clips from nothing against the real clips (FAD / KAD), beside
  the decoder fed latents drawn from N(0, I) (the prior must be closer); and the share of the classifier's
  calls per kind, to show which textures it plays.
- speed on one core: offline real-time factor of encode + decode.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

import numpy as np
import torch

from cadenza.audio.rave import RAVE
from cadenza.audio.textures import KINDS, make_texture
from cadenza.evaluate.param_probe import Probe, curve_windows, following, probe_features
from rave import codec_round_trip, distances, prior_and_normal, rave_transfer, windows

from common import write_result

SR = 16000
PROBE_SEED, TEST_SEED = 1000, 1001


def fresh(kind: str, n: int, seconds: float, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n clips of a kind with their one parameter's curve (at the textures' PARAM_RATE)."""
    out = []
    for i in range(n):
        clip, curves = make_texture(kind, seconds, SR, np.random.default_rng([seed, i, sorted(KINDS).index(kind)]))
        (curve,) = curves.values()
        out.append((clip.samples[0], curve))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="rave-textures")
    ap.add_argument("--compare", action="append", default=[], help="another RAVE model folder, measured alike")
    ap.add_argument("--clips", type=int, default=4, help="held-out clips per kind (default 4)")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--prior-clips", type=int, default=12)
    ap.add_argument("--codec", default="codec-vocos", help="the codec arm (default codec-vocos: the token models')")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from cadenza.audio.classifier import SoundClassifier
    from cadenza.audio.codec import Codec
    from cadenza.audio.embed import get_embedder
    from cadenza.audio.textures import PARAM_RATE
    from cadenza.evaluate.audio_metrics import fad, kad
    from cadenza.pretrained import resolve

    folders = {"rave": args.model, **{f"rave:{m}": m for m in args.compare}}
    raves = {name: RAVE.from_pretrained(folder).eval() for name, folder in folders.items()}
    codec = Codec.from_pretrained(args.codec)
    clf = SoundClassifier.from_pretrained()
    emb = get_embedder("classifier")
    n = round(args.seconds * SR)
    figures: dict[str, Any] = {"threads": 1, "sample_rate": SR, "clips_per_kind": args.clips,
                               "seconds_each": args.seconds, "rave": args.model, "codec": args.codec}  # fmt: skip
    pooled: dict[str, list[np.ndarray]] = {}
    for kind in sorted(KINDS):
        probe_clips = fresh(kind, 16, args.seconds, PROBE_SEED)
        feats = [probe_features(x, SR) for x, _ in probe_clips]
        probe = Probe(np.concatenate(feats), np.concatenate([curve_windows(c, PARAM_RATE, len(f))
                                                              for (_, c), f in zip(probe_clips, feats)]))  # fmt: skip
        test = fresh(kind, args.clips, args.seconds, TEST_SEED)
        real, curves = [x for x, _ in test], [c for _, c in test]
        arms = {"real": real}
        arms |= {name: [rave_transfer(r, x)[:n] for x in real] for name, r in raves.items()}
        arms["codec_6kbps"] = [codec_round_trip(codec, x) for x in real]
        row: dict[str, Any] = {}
        for name, clips in arms.items():
            calls = [clf.cfg.classes[int(p.argmax())] for p in clf.probabilities(clips)]
            r = following(probe, clips, curves, SR, PARAM_RATE)
            r["class_accuracy"] = round(float(np.mean([c == kind for c in calls])), 3)
            if name != "real":
                d = [distances(y, x) for y, x in zip(clips, real)]
                r |= {k: round(float(np.mean([e[k] for e in d])), 3) for k in d[0]}
            row[name] = r
            pooled.setdefault(name, []).extend(clips)
        figures[kind] = row
        print(kind, row, flush=True)
    reference = emb.embed(windows(pooled["real"]))

    def dist(clips: list[np.ndarray]) -> dict[str, float]:
        e = emb.embed(windows(clips))
        return {"fad_classifier": round(fad(e, reference), 2), "kad_classifier": round(kad(e, reference), 3)}

    for name in pooled:
        mean = {k: round(float(np.mean([figures[kind][name][k] for kind in sorted(KINDS)])), 3)
                for k in figures[sorted(KINDS)[0]][name]}  # fmt: skip
        figures[f"mean_{name}"] = mean | (dist(pooled[name]) if name != "real" else {})
        print("mean", name, figures[f"mean_{name}"], flush=True)

    # --- each prior against N(0, I) latents through the same decoder
    for name, r in raves.items():
        sampled = prior_and_normal(r, resolve(folders[name]) / "prior", n, args.prior_clips)
        if sampled is None:
            continue
        gen, noise = sampled
        row = {}
        for arm, clips in (("prior", gen), ("normal_latents", noise)):
            calls = Counter(clf.cfg.classes[int(p.argmax())] for p in clf.probabilities(clips))
            row[arm] = dist(clips) | {"classifier_calls": dict(calls.most_common())}
        figures[f"prior_{name}"] = row | {"clips": args.prior_clips}
        print("prior", name, figures[f"prior_{name}"], flush=True)

    # --- speed on one core
    x = np.concatenate(pooled["real"])[: 30 * SR]
    speed: dict[str, float] = {"audio_seconds": round(len(x) / SR, 1)}
    for name, r in raves.items():
        rave_transfer(r, x[: 2 * SR])
        t0 = time.perf_counter()
        rave_transfer(r, x)
        speed[f"{name}_offline_rtf"] = round(len(x) / SR / (time.perf_counter() - t0), 1)
    figures["speed_1_core"] = speed
    command = "python benchmarks/rave_textures.py" + (f" --model {args.model}" if args.model != "rave-textures" else "")
    command += "".join(f" --compare {m}" for m in args.compare)
    write_result("rave_textures", figures, command=command)


if __name__ == "__main__":
    main()
