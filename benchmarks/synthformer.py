"""Synthformer on held-out texture clips, in one run beside its ceiling and its floor: does the sound follow the
parameter asked for, is it the class asked for, how far is it from real clips, and how fast does it play.

usage: python benchmarks/synthformer.py [--model synthformer-textures] [--data /work/data/textures-sf] [--clips 8]
                                      [--guidance 1 3]
       python benchmarks/synthformer.py --fm-plot OUT.png [--compare [LABEL=]MODEL]   (fm from an index that jumps)

Data: the test split of the texture set the model was trained on, rebuilt with the same command and seed
(`cadenza data textures --kind wind rain engine bugs fm applause --clips 150 --duration 8 --seed 1`); the model
never saw these clips, nor did the sound classifier (trained on the seed-0 set). For each test clip the model plays
the clip's own class and parameter curve, 8 s from nothing. With `--data` a set made with `--curves steps` (its
parameters jump and hold; the model's card names it), the same measures say whether the model reads a jump at once
or follows its own past.

Three sets per class, measured alike:
- `real`: the test clips themselves;
- `codec`: the test clips coded and decoded by the model's codec at its codebooks (the ceiling: the model can only
  sound as good as its codec);
- `model`: the Synthformer playing each clip's curve; `model_guidedG`: the same with classifier-free guidance G on
  the parameters (`--guidance`);
- `unigram` (the floor for FAD/KAD and class): codes drawn independently per frame from each codebook's frequency
  of the class in the training tokens, decoded by the same codec.

Measures:
- following: a parameter probe per class (ridge regression from 0.5 s windows of 64-band log-mel, mean and std,
  fitted on the *training* clips' audio and curves) reads the parameter from the audio; per clip, the Pearson r
  between the probe's reading and the curve asked for (median over clips, and the share of clips with r < 0.5:
  gross failures) and the mean absolute error. Beside it, the same r against another clip's curve (the `shuffled`
  floor: a model that ignored its parameter scores there).
- class accuracy through cadenza's sound classifier; FAD and KAD per class (classifier embedder, 2 s windows)
  against the real clips.
- speed on one core: frames per second generated with the KV cache and by recomputing the window for every frame
  (the reference's way), their ratio; the real-time factor of live play (generation + decoding through the
  `FrameDecoder` with the CLI's live settings) and its latency, and how far its audio is from decoding the whole file
  at once (DAC's mel distance); drift over a minute of play at a constant parameter (level and spectral
  centroid of the first and last 10 s).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from cadenza.audio.dsp import mel_distance
from cadenza.audio.synthformer import FrameDecoder, Synthformer
from cadenza.audio.synthformer_train import texture_entries
from cadenza.evaluate.param_probe import Probe, curve_windows, following, probe_features
from cadenza.io.audio import read_audio

from common import write_result


def windows(clips: list[np.ndarray], sr: int, seconds: float = 2.0) -> list[np.ndarray]:
    n = round(seconds * sr)
    return [c[i : i + n] for c in clips for i in range(0, len(c) - n + 1, n)]


def fm_plot(out: str, models: dict[str, str], seeds: int = 8, guidance: float = 1.5) -> None:
    """The fm texture from a held FM-index curve that jumps (1.6 s per value): the real synthesis, then each model at
    `guidance`; the share of energy above 1 kHz (dB) averaged over `seeds`, and one seed's spectrogram each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cadenza.audio.dsp import stft_magnitude
    from cadenza.audio.textures import fm

    loaded = {name: Synthformer.from_pretrained(path) for name, path in models.items()}
    first = next(iter(loaded.values()))
    sr, rate, n_frames = first.codec.sample_rate, first.cfg.frame_rate, 400
    curve = np.repeat([0.05, 0.9, 0.3, 1.0, 0.05], n_frames // 5).astype(np.float32)

    def held(k: int, _rng: np.random.Generator) -> np.ndarray:
        return np.interp(np.linspace(0, 1, k), np.linspace(0, 1, len(curve)), curve)

    def brightness(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = stft_magnitude(torch.as_tensor(x, dtype=torch.float32), 1024, 256).numpy() ** 2
        f, t = np.fft.rfftfreq(1024, 1 / sr), np.arange(p.shape[1]) * 256 / sr
        return t, 10 * np.log10((p[f > 1000].sum(0) + 1e-12) / (p.sum(0) + 1e-12))

    played = {name: [m.codec.decode_chunked(m.generate("fm", {"index": curve}, n_frames, seed=s, guidance=guidance))
                     [0, 0].numpy() for s in range(seeds)] for name, m in loaded.items()}  # fmt: skip
    real = [fm(round(n_frames / rate * sr), sr, np.random.default_rng(s), curve=held)[0] for s in range(seeds)]
    clips = {"real (the texture's synthesis)": real, **played}
    fig, axes = plt.subplots(len(clips) + 2, 1, figsize=(9, 2.2 * len(clips) + 4.4), sharex=True,
                             gridspec_kw={"height_ratios": [0.5, 1] + [1] * len(clips)})  # fmt: skip
    axes[0].plot(np.arange(len(curve)) / rate, curve, color="k")
    axes[0].set_ylabel("FM index asked")
    axes[0].set_title(f"Synthformer fm: a held index curve that jumps (guidance {guidance:g})")
    for (name, xs), color in zip(clips.items(), ["k", "tab:red", "tab:blue", "tab:green"]):
        t, b = zip(*[brightness(x) for x in xs])
        axes[1].plot(t[0], np.mean(b, 0), color=color, label=name)
    axes[1].set_ylabel(f"energy > 1 kHz (dB)\nmean of {seeds} seeds")
    axes[1].legend(fontsize=8, loc="lower right")
    for ax, (name, xs) in zip(axes[2:], clips.items()):
        ax.specgram(xs[0], NFFT=1024, Fs=sr, noverlap=768, cmap="magma", vmin=-120)
        ax.set_ylim(0, 6000)
        ax.set_ylabel("Hz")
        ax.set_title(f"{name}, seed 0", fontsize=10)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out, dpi=72)
    print("wrote", out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="synthformer-textures")
    ap.add_argument("--data", default="/work/data/textures-sf")
    ap.add_argument("--clips", type=int, default=8, help="test clips per class (default 8)")
    ap.add_argument("--guidance", type=float, nargs="+", default=[1.0, 3.0],
                    help="guidance coefficients, one `model` arm each (default 1 3; 1: the model alone)")  # fmt: skip
    ap.add_argument("--result", default="synthformer")
    ap.add_argument("--fm-plot", metavar="OUT", help="instead: fm played from an index that jumps (see fm_plot)")
    ap.add_argument("--compare", metavar="[LABEL=]MODEL", help="with --fm-plot: another model beside --model")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.fm_plot:
        label, _, other = (args.compare or "").rpartition("=")
        models = {label or other: other} if other else {}
        fm_plot(args.fm_plot, {**models, args.model: args.model})
        return
    from cadenza.audio.classifier import SoundClassifier
    from cadenza.audio.embed import get_embedder
    from cadenza.evaluate.audio_metrics import fad, kad

    model = Synthformer.from_pretrained(args.model)
    codec = model.codec
    cfg, sr, rate = model.cfg, codec.sample_rate, model.cfg.frame_rate
    entries = texture_entries(args.data)
    clf = SoundClassifier.from_pretrained()
    emb = get_embedder("classifier")
    figures: dict[str, Any] = {"model": args.model, "codec_model": cfg.codec, "codebooks": cfg.n_codebooks,
                               "clips_per_class": args.clips}  # fmt: skip
    for kind in cfg.classes:
        (param,) = cfg.params_of(kind)
        tests = [e for e in entries if e["kind"] == kind and e["split"] == "test"][: args.clips]
        trains = [e for e in entries if e["kind"] == kind and e["split"] == "train"][:40]

        def load(e: dict[str, Any], param: str = param) -> tuple[np.ndarray, np.ndarray]:
            x = read_audio(f"{args.data}/{e['file']}", sample_rate=sr, mono=True).samples[0]
            c = np.asarray(e["params"][param], np.float32)
            n = round(len(x) / sr * rate)
            return x, np.interp(np.arange(n) / rate, np.arange(len(c)) / e["param_rate"], c).astype(np.float32)

        train_xc = [load(e) for e in trains]
        feats = [probe_features(x, sr) for x, _ in train_xc]
        probe = Probe(np.concatenate(feats), np.concatenate([curve_windows(c, rate, len(f))
                                                              for (_, c), f in zip(train_xc, feats)]))  # fmt: skip
        real, curves = zip(*[load(e) for e in tests])
        n_frames = min(len(c) for c in curves)
        sets: dict[str, list[np.ndarray]] = {"real": [x[: n_frames * codec.cfg.hop] for x in real]}
        sets["codec"] = [codec.decode_chunked(codec.encode_chunked(torch.tensor(x)[None, None], cfg.n_codebooks))
                         [0, 0].numpy() for x in sets["real"]]  # fmt: skip
        row: dict[str, Any] = {"param": param}
        for g in args.guidance:
            t0 = time.perf_counter()
            codes = [model.generate(kind, {param: c[:n_frames]}, n_frames, seed=i, guidance=g)
                     for i, c in enumerate(curves)]  # fmt: skip
            row[f"generate_frames_per_s{arm(g)}"] = round(len(curves) * n_frames / (time.perf_counter() - t0), 1)
            sets[f"model{arm(g)}"] = [codec.decode_chunked(c)[0, 0].numpy() for c in codes]
        # the floor: each codebook's unigram distribution of the class's codes in the real clips' codec codes
        real_codes = torch.cat([codec.encode_chunked(torch.tensor(x)[None, None], cfg.n_codebooks)
                                for x, _ in train_xc[:20]], -1)[0]  # fmt: skip
        uni = torch.stack([torch.bincount(real_codes[k], minlength=cfg.cardinality).float()
                           for k in range(cfg.n_codebooks)])  # fmt: skip
        sets["unigram"] = []
        for i in range(len(curves)):
            g = torch.Generator().manual_seed(i)
            draw = torch.multinomial(uni / uni.sum(1, keepdim=True), n_frames, replacement=True, generator=g)
            sets["unigram"].append(codec.decode_chunked(draw[None])[0, 0].numpy())
        ref = emb.embed(windows(sets["real"], sr))
        for name, clips in sets.items():
            f = following(probe, clips, [c[:n_frames] for c in curves], sr, rate)
            probs = clf.probabilities(clips)
            acc = float(np.mean([clf.cfg.classes[int(p.argmax())] == kind for p in probs]))
            r = {**f, "class_accuracy": round(acc, 3)}
            if name != "real":
                e = emb.embed(windows(clips, sr))
                r |= {"fad_classifier": round(fad(e, ref), 2), "kad_classifier": round(kad(e, ref), 3)}
            row[name] = r
        figures[kind] = row
        print(kind, row, flush=True)
    for name in ("real", "codec", *(f"model{arm(g)}" for g in args.guidance), "unigram"):
        figures[f"mean_{name}"] = {
            k: round(float(np.mean([figures[kind][name][k] for kind in cfg.classes if k in figures[kind][name]])), 3)
            for k in ("r_median", "r_below_0.5", "r_shuffled_median", "mae", "class_accuracy", "fad_classifier",
                      "kad_classifier") if k in figures[cfg.classes[0]][name]
        }  # fmt: skip
    figures["speed"] = speed(model, max(args.guidance))
    command = (f"python benchmarks/synthformer.py --model {args.model} --data {args.data} --clips {args.clips} "
               f"--guidance {' '.join(map(str, args.guidance))} --result {args.result}")  # fmt: skip
    write_result(args.result, figures, command=command)


def arm(guidance: float) -> str:
    """The name suffix of a guidance coefficient's arm: "" for the model alone, "_guided3" for 3."""
    return "" if guidance == 1.0 else f"_guided{guidance:g}"


def speed(model: Synthformer, guidance: float) -> dict[str, Any]:
    """One core: frames/s with the cache, with guidance and by recomputing the window; live play's real-time factor
    (the model alone, and guided as `play` is by default) and latency; drift over a minute at a constant parameter."""
    kind = "rain" if "rain" in model.cfg.classes else model.cfg.classes[0]
    (param,) = model.cfg.params_of(kind)
    rate = model.cfg.frame_rate

    def control(f: int) -> dict[str, float]:
        return {param: 0.6}

    def frames_per_s(n: int, **kw: Any) -> float:
        t0 = time.perf_counter()
        for _ in model.frames(kind, control, n_frames=n, seed=0, **kw):
            pass
        return n / (time.perf_counter() - t0)

    cached = frames_per_s(500)
    guided = frames_per_s(500, guidance=guidance) if guidance != 1.0 else cached
    recompute = frames_per_s(200, use_cache=False)
    from cadenza.cli.synthformer import LIVE

    decoder = FrameDecoder(model.codec, **LIVE)
    t0 = time.perf_counter()
    out = []
    n_live = round(60 * rate)
    frames = []
    for frame in model.frames(kind, control, n_frames=n_live, seed=1):
        frames.append(frame)
        out.append(decoder.push(frame))
    out.append(decoder.flush())
    live_s = time.perf_counter() - t0
    live_guided = {}  # live play as `play --live` does by default: guided
    t0 = time.perf_counter()
    guided_decoder, n_guided, got = FrameDecoder(model.codec, **LIVE), round(20 * rate), 0
    for frame in model.frames(kind, control, n_frames=n_guided, seed=1, guidance=model.GUIDANCE):
        got += len(guided_decoder.push(frame))
    got += len(guided_decoder.flush())
    live_guided[f"live_realtime_factor{arm(model.GUIDANCE)}"] = round(got / model.codec.sample_rate
                                                                      / (time.perf_counter() - t0), 2)  # fmt: skip
    y = np.concatenate(out)
    sr = model.codec.sample_rate
    whole = model.codec.decode_chunked(torch.stack(frames, -1)[None])[0, 0].numpy()
    live_vs_whole = float(mel_distance(torch.tensor(y), torch.tensor(whole), sr))
    first, last = y[: 10 * sr], y[-10 * sr :]

    def level(x: np.ndarray) -> float:
        return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-9))

    def centroid(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x[: len(x) // 1024 * 1024].reshape(-1, 1024), axis=-1)).mean(0)
        f = np.fft.rfftfreq(1024, 1 / sr)
        return float((spec * f).sum() / spec.sum())

    return {"class": kind, "frames_per_s_cached": round(cached, 1), "frames_per_s_recompute": round(recompute, 1),
            "cache_speedup": round(cached / recompute, 2), "frame_rate": rate,
            f"frames_per_s_cached{arm(guidance)}": round(guided, 1),
            "live_realtime_factor": round(len(y) / sr / live_s, 2), **live_guided,
            "live_latency_ms": round(decoder.latency_s * 1000),
            "live_mel_distance_to_whole_file_decoding": round(live_vs_whole, 3),
            "drift_level_db_first_10s": round(level(first), 2), "drift_level_db_last_10s": round(level(last), 2),
            "drift_centroid_hz_first_10s": round(centroid(first)),
            "drift_centroid_hz_last_10s": round(centroid(last))}  # fmt: skip


if __name__ == "__main__":
    main()
