"""RAVE violin beside DDSP violin and the codec, in one run: resynthesis of held-out violin, timbre transfer of held-out
flute, trumpet and espeak-ng speech into violin, the prior against N(0, I) latents, and speed.

usage: python benchmarks/rave.py [--model rave-violin] [--ddsp ddsp-violin] [--clips 10] [--seconds 8]
                                [--compare OTHER_RAVE_FOLDER ...]

Held-out data: the test split of the violin set the models were trained on (rebuilt with the same command and
seed: `cadenza data render --corpus essen --program violin --minutes 25`), and flute and trumpet renders of other
pieces (seed 1, not their train split). Speech: two sentences by espeak-ng (no model heard a voice).

Measures, each per model:
- the latent's pitch (each RAVE): a k-nearest-neighbour read-out of pYIN's pitch from the posterior means, fitted
  on 20 training clips, scored on the held-out ones: r, median |cents|, share off by more than 50 cents.
- resynthesis: multi-scale spectral distance (FFT 2048..64) and DAC's mel distance to the input; f0 error by an
  independent tracker (pYIN, not the CREPE that drives DDSP): the median |cents| on frames pYIN finds voiced in the
  input, and beside it the share of those frames off by more than 50 cents (gross errors); loudness error (mean
  |dB| of A-weighted loudness, frames above -60 dB).
- transfer: the same f0 measures against the input's pitch moved by the transposition the model applied (DDSP
  moves by octaves towards the violin; RAVE transposes nothing), the output level against the input's, and FAD /
  KAD (cadenza's `clap` and `classifier` embedders, 2 s windows) of the transfers against the held-out violin.
- prior: 2 s windows of `--prior-clips` generated clips against the held-out violin (FAD / KAD), beside the decoder
  fed latents drawn from N(0, I), the VAE's own prior (the prior must be closer).
- speed on one core: real-time factor of encode + decode offline, streamed in 512-sample blocks through the
  Python model and through the exported TorchScript file; the stream's latency. Beside them, in the same run, the
  codec's encode + decode and DDSP's synthesis (with its CREPE analysis), as ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cadenza.audio import ddsp
from cadenza.audio.datasets import read_manifest
from cadenza.audio.dsp import a_weighted_loudness, f0_pyin, mel_distance, multiscale_spectral_distance
from cadenza.audio.rave import RAVE
from cadenza.core.audio import AudioClip, AudioError
from cadenza.io.audio import read_audio
from ddsp import dataset  # the held-out renders, cached as the DDSP benchmark builds them

from common import write_result

SR = 16000


def pitch_figures(out: np.ndarray, src: np.ndarray, shift: float = 0.0) -> tuple[float, float]:
    """(median |cents|, share > 50 cents) of out's pYIN f0 against src's moved by `shift` semitones, on the frames
    pYIN finds voiced in src."""
    f_src, p_src = f0_pyin(AudioClip(src, SR))
    try:
        f_out, _ = f0_pyin(AudioClip(out[: len(src)], SR))
    except AudioError:  # no voiced frame in the output: every frame is a gross error
        return float("nan"), 1.0
    n = min(len(f_src), len(f_out))
    mask = p_src[:n] > 0.5
    if not mask.any():
        return float("nan"), float("nan")
    cents = np.abs(1200 * np.log2(f_out[:n][mask] / (f_src[:n][mask] * 2 ** (shift / 12))))
    return float(np.median(cents)), float((cents > 50).mean())


def loudness_error(out: np.ndarray, src: np.ndarray) -> float:
    a = np.asarray(a_weighted_loudness(out, SR))
    b = np.asarray(a_weighted_loudness(src, SR))
    n = min(len(a), len(b))
    mask = b[:n] > -60
    return float(np.abs(a[:n][mask] - b[:n][mask]).mean())


def distances(y: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """Multi-scale spectral distance, DAC's mel distance and the loudness error of an output y to its input x."""
    a, b = torch.tensor(y), torch.tensor(x)
    return {"spectral_distance": float(multiscale_spectral_distance(a, b)),
            "mel_distance": float(mel_distance(a[None], b[None], SR)),
            "loudness_error_db": loudness_error(y, x)}  # fmt: skip


def prior_and_normal(model: RAVE, folder: Path, n: int, clips: int) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """`clips` clips of n samples from the model's prior in `folder` (seeds 0..), and as many from the decoder fed
    latents drawn from N(0, I) (seed 0); None when the folder holds no prior."""
    from cadenza.audio.rave_prior import RAVEPrior

    if not (folder / "config.json").is_file():
        return None
    prior = RAVEPrior.from_pretrained(folder)
    frames = -(-(n + model.delay) // model.cfg.hop)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        gen = [model.decode(prior.generate(frames, seed=s))[0, 0, :n].numpy() for s in range(clips)]
        noise = [model.synthesis(torch.randn(1, model.cfg.latent_dim, frames, generator=g))[0, 0, :n].numpy()
                 for _ in range(clips)]  # fmt: skip
    return gen, noise


def level_db(x: np.ndarray) -> float:
    loud = np.asarray(a_weighted_loudness(x, SR))
    return float(loud[loud > -60].mean()) if (loud > -60).any() else -120.0


def windows(clips: list[np.ndarray], seconds: float = 2.0, skip_silent: bool = False) -> list[np.ndarray]:
    """2 s windows of each clip (the reference skips its silent ones; a silent output is an output)."""
    n = round(seconds * SR)
    out = [c[i : i + n] for c in clips for i in range(0, len(c) - n + 1, n)]
    return [w for w in out if np.abs(w).max() > 1e-3] if skip_silent else out


class Distances:
    """FAD / KAD of sets of clips against one reference set, through the trusted embedders."""

    def __init__(self, reference: list[np.ndarray]) -> None:
        from cadenza.audio.embed import get_embedder

        self.embedders = [get_embedder("clap"), get_embedder("classifier")]
        self.reference = {e.name: e.embed(windows(reference, skip_silent=True)) for e in self.embedders}

    def __call__(self, clips: list[np.ndarray]) -> dict[str, float]:
        from cadenza.evaluate.audio_metrics import fad, kad

        out: dict[str, float] = {"windows": len(windows(clips))}
        for e in self.embedders:
            emb = e.embed(windows(clips))
            out[f"fad_{e.name}"] = round(fad(emb, self.reference[e.name]), 3)
            out[f"kad_{e.name}"] = round(kad(emb, self.reference[e.name]), 3)
        return out


def rave_transfer(model: RAVE, x: np.ndarray) -> np.ndarray:
    return model.resynthesize(torch.tensor(x)[None, None])[0, 0].numpy()


def codec_round_trip(codec: Any, x: np.ndarray) -> np.ndarray:
    audio = torch.tensor(x)[None, None]
    k = codec.cfg.codebooks_for(6.0)
    return codec.decode_chunked(codec.encode_chunked(audio, k))[0, 0, : len(x)].numpy()


def pitch_track(clips: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """pYIN's (f0, confidence) per clip at 100 frames/s, once for every model read out."""
    return [f0_pyin(AudioClip(x, SR), frame_rate=100) for x in clips]


def latent_pitch(model: RAVE, train: list[np.ndarray], test: list[np.ndarray],
                 tracks: list[tuple[np.ndarray, np.ndarray]], k: int = 10) -> dict[str, float]:  # fmt: skip
    """Does the latent hold the input's pitch? A k-nearest-neighbour read-out of pYIN's pitch (semitones) from the
    posterior means (+-2 frames), fitted on training clips, scored on held-out ones (voiced frames): correlation,
    median |cents| and the share off by more than 50 cents. Independent of the decoder: a latent without pitch
    cannot be played at the input's pitch."""

    def frames(clips: list[np.ndarray], pitch: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for x, (f0, conf) in zip(clips, pitch):
            with torch.no_grad():
                z = model.posterior(model.pad_to_frames(torch.tensor(x)[None, None]))[0][0].numpy()
            t = np.minimum(((np.arange(len(x) // model.cfg.hop) + 0.5) * model.cfg.hop / SR * 100).astype(int),
                           len(f0) - 1)  # fmt: skip
            z = np.pad(z[:, : len(t)], ((0, 0), (2, 2)), mode="edge")
            ctx = np.concatenate([z[:, i : i + len(t)] for i in range(5)]).T
            voiced = conf[t] > 0.5
            xs.append(ctx[voiced])
            ys.append(12 * np.log2(f0[t][voiced] / 440) + 69)
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = frames(train, tracks[: len(train)])
    x_test, y_test = frames(test, tracks[len(train) :])
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    d = (x_test**2).sum(1)[:, None] - 2 * x_test @ x_train.T + (x_train**2).sum(1)[None]
    pred = y_train[np.argsort(d, axis=1)[:, :k]].mean(1)
    cents = 100 * np.abs(pred - y_test)
    return {"r": round(float(np.corrcoef(pred, y_test)[0, 1]), 3), "median_cents": round(float(np.median(cents)), 1),
            "gross_share": round(float((cents > 50).mean()), 3), "frames": len(y_test)}  # fmt: skip


def summarize(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(float(np.nanmean([r[k] for r in rows])), 4) for k in rows[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="rave-violin")
    ap.add_argument("--ddsp", default="ddsp-violin")
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each held-out excerpt")
    ap.add_argument("--prior-clips", type=int, default=12)
    ap.add_argument(
        "--compare",
        nargs="*",
        default=[],
        help="other RAVE models (folders) measured beside --model on resynthesis and the latent's pitch",
    )
    ap.add_argument("--probe-clips", type=int, default=20, help="training clips the latent pitch read-out is fitted on")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from cadenza.audio.codec import Codec
    from cadenza.audio.speech import speak

    rave = RAVE.from_pretrained(args.model)
    dd = ddsp.DDSP.from_pretrained(args.ddsp)
    codec = Codec.from_pretrained()
    n = round(args.seconds * SR)
    violin = dataset("violin", 25)
    held = [read_audio(violin / e["file"], sample_rate=SR, mono=True).samples[0][:n]
            for e in read_manifest(violin, "test")[: args.clips]]  # fmt: skip
    figures: dict[str, Any] = {"threads": 1, "sample_rate": SR, "clips": len(held), "seconds_each": args.seconds,
                               "rave": str(args.model), "ddsp": str(args.ddsp)}  # fmt: skip
    dist = Distances(held)
    figures["reference_windows"] = len(windows(held, skip_silent=True))

    # --- does the latent hold the pitch? (each RAVE; fitted on training clips)
    probe_train = [read_audio(violin / e["file"], sample_rate=SR, mono=True).samples[0][: 10 * SR]
                   for e in read_manifest(violin, "train")[: args.probe_clips]]  # fmt: skip
    raves = {"rave": rave, **{f"rave:{m}": RAVE.from_pretrained(m) for m in args.compare}}
    tracks = pitch_track(probe_train + held)
    figures["latent_pitch"] = {name: latent_pitch(r, probe_train, held, tracks) for name, r in raves.items()}
    print("latent pitch", figures["latent_pitch"], flush=True)

    # --- resynthesis of held-out violin
    resynth: dict[str, Any] = {}
    arms = [(name, lambda x, r=r: rave_transfer(r, x)) for name, r in raves.items()]
    arms += [("codec_6kbps", lambda x: codec_round_trip(codec, x)),
             ("ddsp", lambda x: ddsp.synthesize(dd, *_controls(dd, x), audio=None).samples[0])]  # fmt: skip
    for name, fn in arms:
        rows = []
        for x in held:
            y = fn(x)[: len(x)]
            x_, y_ = x[: len(y)], y
            cents, gross = pitch_figures(y_, x_)
            rows.append(distances(y_, x_) | {"f0_median_cents": cents, "f0_gross_share": gross})
        resynth[name] = summarize(rows)
        print("resynthesis", name, resynth[name], flush=True)
    figures["resynthesis"] = resynth

    # --- timbre transfer into violin
    sources: dict[str, list[np.ndarray]] = {}
    for program in ("flute", "trumpet"):
        folder = dataset(program, 6, seed=1)
        entries = [e for e in read_manifest(folder) if e["split"] != "train"][: max(2, args.clips // 2)]
        sources[program] = [read_audio(folder / e["file"], sample_rate=SR, mono=True).samples[0][:n] for e in entries]
    sources["speech"] = [speak().samples[0]]
    transfer: dict[str, Any] = {}
    for src_name, clips in sources.items():
        transfer[src_name] = {}
        for name in (*raves, "ddsp"):
            rows, outs = [], []
            for x in clips:
                if name in raves:
                    y, shift = rave_transfer(raves[name], x), 0.0
                else:
                    clip, plan, _ = ddsp.timbre_transfer(dd, AudioClip(x, SR), figures=dd.figures)
                    y, shift = clip.samples[0], plan.pitch_shift
                cents, gross = pitch_figures(y, x[: len(y)], shift)
                rows.append({"f0_median_cents": cents, "f0_gross_share": gross,
                             "level_change_db": level_db(y) - level_db(x)})  # fmt: skip
                outs.append(y)
            transfer[src_name][name] = {**summarize(rows), **dist(outs), "clips": len(clips)}
            print("transfer", src_name, name, transfer[src_name][name], flush=True)
    figures["transfer"] = transfer

    # --- the prior against N(0, I)
    from cadenza.pretrained import resolve

    sampled = prior_and_normal(rave, resolve(args.model) / "prior", n, args.prior_clips)
    if sampled is not None:
        gen, noise = sampled
        figures["prior"] = {"prior": dist(gen), "normal_latents": dist(noise), "clips": args.prior_clips}
        print("prior", figures["prior"], flush=True)

    # --- speed on one core
    x = np.concatenate(held)[: 30 * SR]
    seconds = len(x) / SR
    speed: dict[str, Any] = {"audio_seconds": round(seconds, 1)}

    def rtf(fn: Any) -> float:
        fn()
        t0 = time.perf_counter()
        fn()
        return round(seconds / (time.perf_counter() - t0), 1)

    speed["rave_offline_rtf"] = rtf(lambda: rave_transfer(rave, x))
    hop = rave.cfg.hop

    def python_stream() -> None:
        audio = torch.tensor(x)[None, None]
        with torch.no_grad(), rave.stream():
            for i in range(0, (len(x) // hop) * hop, hop):
                rave.decode(rave.encode(audio[..., i : i + hop]))

    speed["rave_stream_512_rtf"] = rtf(python_stream)
    from cadenza.audio.rave_export import export_torchscript

    with tempfile.TemporaryDirectory() as tmp:
        info = export_torchscript(rave, Path(tmp) / "m.ts")
        ts = torch.jit.load(str(Path(tmp) / "m.ts"))

        def script_stream() -> None:
            audio = torch.tensor(x)[None, None]
            with torch.no_grad():
                for i in range(0, (len(x) // hop) * hop, hop):
                    ts.forward(audio[..., i : i + hop])

        speed["rave_torchscript_stream_512_rtf"] = rtf(script_stream)
    speed["stream_latency_ms"] = round(info["latency_ms"], 1)
    speed["codec_6kbps_rtf"] = rtf(lambda: codec_round_trip(codec, x))
    speed["ddsp_with_crepe_rtf"] = rtf(lambda: ddsp.synthesize(dd, *_controls(dd, x)))
    speed["rave_over_codec"] = round(speed["rave_offline_rtf"] / speed["codec_6kbps_rtf"], 2)
    speed["rave_over_ddsp"] = round(speed["rave_offline_rtf"] / speed["ddsp_with_crepe_rtf"], 2)
    speed["paper_rtf_48khz_laptop_cpu"] = 20  # Caillon & Esling 2021, at 48 kHz (not measured here)
    figures["speed_1_core"] = speed
    print("speed", speed, flush=True)
    command = "python benchmarks/rave.py" + "".join(f" --compare {m}" for m in args.compare)
    write_result("rave", figures, command=command)


def _controls(model: ddsp.DDSP, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = ddsp.extract_features(AudioClip(x, SR), model.cfg)
    return f.f0_hz, f.loudness_db


if __name__ == "__main__":
    main()
