"""VampNet on held-out renders, in one run beside its ceiling and its floor: how far vamped audio is from real music
as the number of sampling passes grows, how well it fills a gap, how fast it plays.

usage: python benchmarks/vampnet.py [--model vampnet-music] [--data /work/data/codec-train] [--clips 24]
       python benchmarks/vampnet.py --valid-loss MODEL [MODEL ...]   (cross-entropy per codebook: context used?)
       python benchmarks/vampnet.py --c2f vampnet-c2f --result vampnet_c2f   (what the finer codebooks add)
       python benchmarks/vampnet.py --tune --model M --compare vampnet-music --result vampnet_tune   (keep the tune?)

Data: the set the model was trained on, rebuilt with the same command and seed (see `models/codec-vocos`'s
card); its test split gives the inputs (pieces the model never heard), its valid split the reference set of
FAD / KAD (other pieces, so that an output is not compared with its own input). One window of the model's context
(5.12 s) from the start of each test clip.

Sets, each against the same reference (2 s windows, cadenza's classifier and CLAP embedders):
- `real`: the test inputs themselves (the best a generator can do against this reference);
- `codec`: the inputs coded and decoded at the model's codebooks (the ceiling of any model over these codes);
- `vamp_steps_N`: periodic:7 variations (every 7th frame kept, 86% of the tokens generated) in N MaskGIT passes,
  N = 1, 4, 12, 24, 36, without guidance; `vamp_24_guided`: 24 passes with classifier-free guidance 1.0 (the
  default of `vamp` since this comparison);
- `unigram`: every generated token drawn from its codebook's frequencies in the test codes (the floor).

Pitch: the share of the inputs' voiced frames (pYIN) where an output is off by more than 50 cents (the inputs are
monophonic melodies, so a variation that keeps every 7th frame should mostly keep the tune); also with every 3rd
frame kept, and with the first one or two codebooks kept everywhere (beside the codec decoding only those).
Inpainting: the middle second of each window masked and filled in 24 passes (without guidance); DAC's mel
distance between the filled span and the input's span, beside the codec's own reconstruction of the span (ceiling)
and unigram tokens (floor).
Speed on one core: seconds of audio vamped (and decoded) per second, at 12, 24 and 36 passes without guidance
(guidance doubles the passes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cadenza.audio.datasets import read_manifest
from cadenza.audio.dsp import mel_distance
from cadenza.audio.vampnet import VampNet, prompt_mask
from cadenza.io.audio import read_audio

from common import write_result


def windows(clips: list[np.ndarray], sr: int, seconds: float = 2.0) -> list[np.ndarray]:
    n = round(seconds * sr)
    return [c[i : i + n] for c in clips for i in range(0, len(c) - n + 1, n)]


def distances(sets: dict[str, list[np.ndarray]], reference: list[np.ndarray], sr: int, figures: dict[str, Any]) -> None:
    """FAD and KAD of every set to the reference (2 s windows), through cadenza's classifier and CLAP, into
    `figures[set name]`."""
    from cadenza.audio.embed import get_embedder
    from cadenza.evaluate.audio_metrics import fad, kad

    for name in ("classifier", "clap"):
        emb = get_embedder(name)
        ref = emb.embed(windows(reference, sr))
        for set_name, clips in sets.items():
            e = emb.embed(windows(clips, sr))
            figures.setdefault(set_name, {})[f"fad_{name}"] = round(fad(e, ref), 3)
            figures[set_name][f"kad_{name}"] = round(kad(e, ref), 3)
        print(name, {k: v for k, v in figures.items() if isinstance(v, dict)}, flush=True)


def openings(data: str, split: str, limit: int, sr: int, n_samples: int) -> list[np.ndarray]:
    """The first `n_samples` of up to `limit` clips of a split (clips shorter than that are skipped)."""
    out = []
    for e in read_manifest(data, split):
        x = read_audio(f"{data}/{e['file']}", sample_rate=sr, mono=True).samples[0]
        if len(x) >= n_samples:
            out.append(x[:n_samples])
        if len(out) == limit:
            break
    return out


def pitch_gross(outputs: list[np.ndarray], inputs: list[np.ndarray], sr: int) -> float:
    """The share of the inputs' voiced frames (pYIN) where the output is off by more than 50 cents or unvoiced."""
    from cadenza.audio.dsp import f0_pyin
    from cadenza.core.audio import AudioClip

    off, total = 0, 0
    for y, x in zip(outputs, inputs):
        f_in, p_in = f0_pyin(AudioClip(x, sr))
        f_out, p_out = f0_pyin(AudioClip(y[: len(x)], sr))
        n = min(len(f_in), len(f_out))
        voiced = p_in[:n] > 0.5
        cents = np.abs(1200 * np.log2(np.maximum(f_out[:n][voiced], 1.0) / f_in[:n][voiced]))
        off += int(np.sum(~(cents < 50)))
        total += int(voiced.sum())
    return round(off / max(total, 1), 3)


def valid_loss(models: list[str], data: str, result: str = "vampnet_valid_loss") -> None:
    """`--valid-loss`: the training's own validation (fixed windows and masks of the valid split), per codebook,
    for several models over the same codec, with a bigram of the first codebook (the previous frame's code, counted
    on the train split) as the floor that a model reading its context must beat."""
    from cadenza.audio.rave_train import training_audio
    from cadenza.audio.vampnet_train import validation_loss

    loaded = [VampNet.from_pretrained(m).eval() for m in models]
    codec, k = loaded[0].codec, loaded[0].cfg.n_codebooks
    train, valid = training_audio([data], codec.sample_rate)
    code = [codec.encode_chunked(torch.tensor(x)[None, None], k)[0].numpy() for x in train + valid]
    figures: dict[str, Any] = {"data": data, "valid_clips": len(valid)}
    for name, model in zip(models, loaded):
        if model.cfg.codec_id != loaded[0].cfg.codec_id:
            raise SystemExit(f"{name}: another codec's codes than {models[0]}")
        figures[name] = {key: round(v, 3) for key, v in validation_loss(model, code[len(train) :]).items()}
        print(name, figures[name], flush=True)
    card = loaded[0].cfg.cardinality
    counts = np.ones((card, card)) * 1e-3  # add-epsilon, mixed with the unigram below
    for c in code[: len(train)]:
        np.add.at(counts, (c[0, :-1], c[0, 1:]), 1)
    uni = counts.sum(0) / counts.sum()
    big = counts / counts.sum(1, keepdims=True)
    prev = np.concatenate([c[0, :-1] for c in code[len(train) :]])
    nxt = np.concatenate([c[0, 1:] for c in code[len(train) :]])
    figures["first codebook: unigram"] = round(float(-np.log(uni[nxt]).mean()), 3)
    figures["first codebook: bigram on the previous frame"] = round(
        min(float(-np.log(lam * big[prev, nxt] + (1 - lam) * uni[nxt]).mean()) for lam in (0.5, 0.7, 0.9)), 3
    )
    figures["first codebook: consecutive frames with the same code"] = round(float(np.mean(prev == nxt)), 3)
    write_result(result, figures, command=f"python benchmarks/vampnet.py --data {data} --valid-loss "
                                          + " ".join(models) + f" --result {result}")  # fmt: skip


def coarse_to_fine(coarse_name: str, c2f_name: str, data: str, n_clips: int, result: str) -> None:
    """`--c2f`: what a coarse-to-fine model adds to the coarse model's codes, on the same held-out windows.

    Given the inputs' own coarse codes, the fine codebooks it generates (all of them, nothing of the input's fine
    codes kept) are scored against the input (mel distance, pYIN gross pitch errors) beside the codec decoding the
    coarse codebooks alone (what `vamp` plays without it) and all of them (its ceiling); then periodic:7 variations
    (24 passes, guided, as `vamp` makes them) are scored by FAD/KAD against other held-out renders, alone and
    refined in 4 and 12 passes, beside the codec at both depths; and its speed on one core."""
    coarse, c2f = VampNet.from_pretrained(coarse_name), VampNet.from_pretrained(c2f_name)
    if c2f.cfg.codec_id != coarse.cfg.codec_id or c2f.cfg.n_conditioning != coarse.cfg.n_codebooks:
        raise SystemExit(f"{c2f_name} does not refine {coarse_name}'s codes")
    codec, k, k_all = coarse.codec, coarse.cfg.n_codebooks, c2f.cfg.n_codebooks
    sr, hop, n = codec.sample_rate, codec.cfg.hop, min(coarse.cfg.context, c2f.cfg.context)

    def decode(c: torch.Tensor) -> np.ndarray:
        return codec.decode_chunked(c)[0, 0].numpy()

    inputs, reference = openings(data, "test", n_clips, sr, n * hop), openings(data, "valid", 100, sr, n * hop)
    codes = [codec.encode_chunked(torch.tensor(x)[None, None], k_all)[..., :n] for x in inputs]
    everywhere = torch.ones(1, k, n, dtype=torch.bool)
    t0 = time.perf_counter()
    refined = [c2f.refine(c[:, :k], everywhere, None, steps=12, guidance=0.0, seed=i) for i, c in enumerate(codes)]
    c2f_speed = round(len(codes) * n / coarse.cfg.frame_rate / (time.perf_counter() - t0), 2)
    sets: dict[str, list[np.ndarray]] = {
        "real": inputs,
        f"codec, {k} codebooks": [decode(c[:, :k]) for c in codes],
        f"codec, {k_all} codebooks": [decode(c) for c in codes],
        f"codec's {k} + generated {k_all - k}": [decode(c) for c in refined],
    }
    figures: dict[str, Any] = {"model": coarse_name, "c2f": c2f_name, "codec_model": coarse.cfg.codec,
                               "clips": len(inputs), "window_s": n / coarse.cfg.frame_rate,
                               "c2f_audio_s_per_s_12_passes": c2f_speed}  # fmt: skip
    for name in list(sets)[1:]:
        d = [float(mel_distance(torch.tensor(y[: len(x)]), torch.tensor(x), sr)) for y, x in zip(sets[name], inputs)]
        figures[name] = {"mel_distance_median": round(float(np.median(d)), 3),
                         "mel_distance_p90": round(float(np.percentile(d, 90)), 3),
                         "pitch_gross_share": pitch_gross(sets[name], inputs, sr)}  # fmt: skip
        print(name, figures[name], flush=True)
    periodic = prompt_mask(["periodic:7"], n, coarse.cfg)
    vamped = [coarse.vamp(c[:, :k], periodic, steps=24, guidance=1.0, seed=i) for i, c in enumerate(codes)]
    sets[f"vamp periodic:7, {k} codebooks"] = [decode(v) for v in vamped]
    for steps in (4, 12):
        sets[f"vamp periodic:7 + c2f {steps} passes"] = [
            decode(c2f.refine(v, periodic, c[:, k:], steps=steps, guidance=0.0, seed=i))
            for i, (v, c) in enumerate(zip(vamped, codes))
        ]
    distances(sets, reference, sr, figures)
    write_result(result, figures, command=f"python benchmarks/vampnet.py --model {coarse_name} --c2f {c2f_name} "
                                          f"--clips {n_clips} --result {result}")  # fmt: skip


def tune_check(name: str, compare: list[str], data: str, n_clips: int, result: str, tune_guidance: float,
               prompts: list[str]) -> None:  # fmt: skip
    """`--tune`: what the tune condition (`vamp(..., tune=dominant_notes(input))`, `vamp --follow-tune`) keeps.

    On the same held-out windows and seeds, at the defaults of `vamp` (24 passes, guidance 1.0): variations with
    each of `prompts` (`all`: every token generated, the tune alone), each with and without the tune (guided with
    `tune_guidance`), beside the models of `compare` (without it) and the codec (the ceiling): pYIN's share of the
    inputs' voiced frames off by more than 50 cents, the share of the frames whose dominant note (the condition
    itself) the output keeps, and FAD / KAD to other held-out renders."""
    from cadenza.audio.vampnet import dominant_notes

    model = VampNet.from_pretrained(name)
    if not model.cfg.tune_bins:
        raise SystemExit(f"{name} was trained without the tune (vampnet train --tune)")
    others = {c: VampNet.from_pretrained(c) for c in compare}
    codec, cfg = model.codec, model.cfg
    sr, hop, n = codec.sample_rate, codec.cfg.hop, cfg.context
    inputs, reference = openings(data, "test", n_clips, sr, n * hop), openings(data, "valid", 100, sr, n * hop)
    tunes = [model.tune_of(x, sr, n) for x in inputs]
    coded: dict[str, list[torch.Tensor]] = {}  # each codec's codes of the inputs (a compared model may read another)

    def codes_of(vn: VampNet) -> list[torch.Tensor]:
        if vn.cfg.codec_id not in coded:
            if vn.codec.sample_rate != sr or vn.cfg.context != n:
                raise SystemExit(f"{vn.cfg.codec} / context {vn.cfg.context}: not comparable with {name}'s")
            coded[vn.cfg.codec_id] = [vn.codec.encode_chunked(torch.tensor(x)[None, None], vn.cfg.n_codebooks)[..., :n]
                                      for x in inputs]  # fmt: skip
        return coded[vn.cfg.codec_id]

    def decode(vn: VampNet, c: torch.Tensor) -> np.ndarray:
        return vn.codec.decode_chunked(c)[0, 0].numpy()

    masks = {p: prompt_mask([p], n, cfg) for p in prompts if p != "all"}
    if "all" in prompts:
        masks["everything generated"] = torch.ones(1, cfg.n_codebooks, n, dtype=torch.bool)
    sets: dict[str, list[np.ndarray]] = {"real": inputs, "codec": [decode(model, c) for c in codes_of(model)]}
    for vn in others.values():  # the ceiling of each other codec
        if f"codec {vn.cfg.codec}" not in sets and vn.cfg.codec_id != cfg.codec_id:
            sets[f"codec {vn.cfg.codec}"] = [decode(vn, c) for c in codes_of(vn)]
    t_speed: dict[str, float] = {}
    for prompt, m in masks.items():
        for label, vn in [(name, model), *others.items()]:
            if label != name and prompt == "everything generated":
                continue
            for tuned in (False, True) if label == name else (False,):
                t0 = time.perf_counter()
                sets[f"{label}, {prompt}{', tune kept' if tuned else ''}"] = [
                    decode(
                        vn,
                        vn.vamp(
                            c,
                            m,
                            steps=24,
                            guidance=1.0,
                            seed=i,
                            tune=tn if tuned else None,
                            tune_guidance=tune_guidance,
                        ),
                    )
                    for i, (c, tn) in enumerate(zip(codes_of(vn), tunes))
                ]
                if prompt == "periodic:7" and label == name:
                    t_speed[f"tune {tuned}"] = round(len(inputs) * n / cfg.frame_rate / (time.perf_counter() - t0), 2)
        print(prompt, "vamped", flush=True)
    figures: dict[str, Any] = {"model": name, "compare": compare, "codec_model": cfg.codec, "clips": len(inputs),
                               "window_s": n / cfg.frame_rate, "steps": 24, "guidance": 1.0,
                               "tune_guidance": tune_guidance, "audio_s_per_s_periodic_7": t_speed}  # fmt: skip
    for set_name, outs in sets.items():
        if set_name == "real":
            continue
        kept = [np.mean(dominant_notes(y[: len(x)], sr, cfg.frame_rate, n)[t[0].numpy() >= 0]
                        == t[0].numpy()[t[0].numpy() >= 0]) for y, x, t in zip(outs, inputs, tunes)]  # fmt: skip
        figures[set_name] = {"pitch_gross_share": pitch_gross(outs, inputs, sr),
                             "dominant_note_kept_share": round(float(np.mean(kept)), 3)}  # fmt: skip
        print(set_name, figures[set_name], flush=True)
    distances(sets, reference, sr, figures)
    write_result(result, figures, command=f"python benchmarks/vampnet.py --tune --model {name} --compare "
                                          f"{' '.join(compare)} --tune-guidance {tune_guidance:g} --prompts "
                                          f"{' '.join(prompts)} --clips {n_clips} --result {result}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="vampnet-music")
    ap.add_argument("--data", default="/work/data/codec-train")
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--result", default="vampnet")
    ap.add_argument(
        "--valid-loss",
        nargs="+",
        metavar="MODEL",
        help="instead: each model's cross-entropy per codebook on the held-out codes of --data at mask "
        "ratios 0.3 / 0.6 / 0.9 (how much it reads from its context; results/vampnet_valid_loss.json)",
    )
    ap.add_argument("--c2f", metavar="MODEL", help="instead: what this coarse-to-fine model adds (see coarse_to_fine)")
    ap.add_argument("--tune", action="store_true", help="instead: what the tune condition keeps (see tune_check)")
    ap.add_argument("--compare", nargs="*", default=[], metavar="MODEL", help="--tune: models to score beside")
    ap.add_argument("--tune-guidance", type=float, default=3.0, help="--tune: the tune's guidance (vamp's default)")
    ap.add_argument("--prompts", nargs="+", default=["periodic:7", "periodic:3", "all"], help="--tune: prompts")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.valid_loss:
        valid_loss(args.valid_loss, args.data, "vampnet_valid_loss" if args.result == "vampnet" else args.result)
        return
    if args.c2f:
        coarse_to_fine(args.model, args.c2f, args.data, args.clips, args.result)
        return
    if args.tune:
        tune_check(args.model, args.compare, args.data, args.clips, args.result, args.tune_guidance, args.prompts)
        return
    model = VampNet.from_pretrained(args.model)
    codec, cfg = model.codec, model.cfg
    sr, hop, n = codec.sample_rate, codec.cfg.hop, cfg.context

    inputs = openings(args.data, "test", args.clips, sr, n * hop)
    reference = openings(args.data, "valid", 100, sr, n * hop)
    codes = [codec.encode_chunked(torch.tensor(x)[None, None], cfg.n_codebooks)[..., :n] for x in inputs]

    def decode(c: torch.Tensor) -> np.ndarray:
        return codec.decode_chunked(c)[0, 0].numpy()

    all_codes = torch.cat(codes, -1)[0]
    uni = torch.stack([torch.bincount(all_codes[k], minlength=cfg.cardinality).float() for k in range(cfg.n_codebooks)])
    uni = uni / uni.sum(1, keepdim=True)

    def unigram_fill(c: torch.Tensor, mask: torch.Tensor, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        draw = torch.multinomial(uni, c.shape[-1], replacement=True, generator=g)[None]
        return torch.where(mask, draw, c)

    periodic = prompt_mask(["periodic:7"], n, cfg)
    sets: dict[str, list[np.ndarray]] = {"real": inputs, "codec": [decode(c) for c in codes]}
    speed: dict[str, float] = {}
    for steps in (1, 4, 12, 24, 36):
        t0 = time.perf_counter()
        sets[f"vamp_steps_{steps}"] = [
            decode(model.vamp(c, periodic, steps=steps, guidance=0.0, seed=i)) for i, c in enumerate(codes)
        ]
        if steps in (12, 24, 36):
            speed[f"audio_s_per_s_steps_{steps}"] = round(
                len(codes) * n / cfg.frame_rate / (time.perf_counter() - t0), 2
            )
    sets["vamp_24_guided"] = [decode(model.vamp(c, periodic, steps=24, guidance=1.0, seed=i))
                              for i, c in enumerate(codes)]  # fmt: skip
    sets["unigram"] = [decode(unigram_fill(c, periodic, i)) for i, c in enumerate(codes)]

    figures: dict[str, Any] = {"model": args.model, "codec_model": cfg.codec, "codebooks": cfg.n_codebooks,
                               "clips": len(inputs), "window_s": n / cfg.frame_rate,
                               "generated_share_periodic_7": round(float(periodic.float().mean()), 3)}  # fmt: skip
    distances(sets, reference, sr, figures)

    # pitch, by an independent tracker (pYIN): the inputs are monophonic melodies
    for set_name in ("codec", "vamp_steps_24", "unigram"):
        figures[set_name]["pitch_gross_share"] = pitch_gross(sets[set_name], inputs, sr)
    # where the tune goes: denser periodic prompts, and prompts that keep the coarse codebooks everywhere, beside the
    # codec decoding only those codebooks
    where: dict[str, float] = {}
    for prompt in ("periodic:3", "codebooks:1", "codebooks:2"):
        m = prompt_mask([prompt], n, cfg)
        outs = [decode(model.vamp(c, m, steps=24, guidance=0.0, seed=i)) for i, c in enumerate(codes)]
        where[f"vamp {prompt}, 24 passes"] = pitch_gross(outs, inputs, sr)
    for k in (1, 2):
        where[f"codec, first {k} codebook(s) only"] = pitch_gross([decode(c[:, :k]) for c in codes], inputs, sr)
    figures["pitch_gross_share_by_prompt"] = where

    # inpainting the middle second
    a, b = (n // 2 - round(cfg.frame_rate / 2)), (n // 2 + round(cfg.frame_rate / 2))
    gap = prompt_mask([f"inpaint:{a / cfg.frame_rate:g}s-{b / cfg.frame_rate:g}s"], n, cfg)
    rows: dict[str, list[float]] = {"vamp": [], "codec": [], "unigram": []}
    for i, (x, c) in enumerate(zip(inputs, codes)):
        span = torch.tensor(x[a * hop : b * hop])
        for name, filled in (("vamp", model.vamp(c, gap, steps=24, guidance=0.0, seed=i)), ("codec", c),
                             ("unigram", unigram_fill(c, gap, i))):  # fmt: skip
            y = torch.tensor(decode(filled)[a * hop : b * hop])
            rows[name].append(float(mel_distance(y, span, sr)))
    figures["inpaint_1s_mel_distance"] = {
        k: {"median": round(float(np.median(v)), 3), "p90": round(float(np.percentile(v, 90)), 3)}
        for k, v in rows.items()
    }
    figures["speed"] = speed
    command = f"python benchmarks/vampnet.py --model {args.model} --clips {args.clips} --result {args.result}"
    write_result(args.result, figures, command=command)
    plot_steps(figures, Path(__file__).parent / "results" / f"{args.result}_steps.png")


def plot_steps(figures: dict[str, Any], out: Path) -> None:
    """FAD against the number of sampling passes, with the ceiling and the floor as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [1, 4, 12, 24, 36]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, emb in zip(axes, ("classifier", "clap")):
        ax.plot(steps, [figures[f"vamp_steps_{s}"][f"fad_{emb}"] for s in steps], "o-", label="VampNet, periodic:7")
        ax.plot([24], [figures["vamp_24_guided"][f"fad_{emb}"]], "*", markersize=12, label="24 passes, guidance 1")
        for name, style in (("codec", "g--"), ("unigram", "r:"), ("real", "k-.")):
            ax.axhline(figures[name][f"fad_{emb}"], color=style[0], linestyle=style[1:], label=name)
        ax.set_xscale("log")
        ax.set_xticks(steps, [str(s) for s in steps])
        ax.set_xlabel("sampling passes")
        ax.set_ylabel(f"FAD ({emb} embedder)")
    axes[0].legend(fontsize=8)
    fig.suptitle("VampNet variations of held-out renders: FAD to other held-out renders (lower is better)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
