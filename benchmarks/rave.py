"""RAVE violin beside DDSP violin and the codec, in one run: resynthesis of held-out violin, timbre transfer of held-out
flute, trumpet and espeak-ng speech into violin, the prior against N(0, I) latents, and speed.

usage: python benchmarks/rave.py [--model rave-violin] [--ddsp ddsp-violin] [--clips 10] [--seconds 8]

Held-out data: the test split of the violin set the models were trained on (rebuilt with the same command and
seed: `cadenza data render --corpus essen --program violin --minutes 25`), and flute and trumpet renders of other
pieces (seed 1, not their train split). Speech: two sentences by espeak-ng (no model heard a voice).

Measures, each per model:
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


def summarize(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(float(np.nanmean([r[k] for r in rows])), 4) for k in rows[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="rave-violin")
    ap.add_argument("--ddsp", default="ddsp-violin")
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each held-out excerpt")
    ap.add_argument("--prior-clips", type=int, default=12)
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

    # --- resynthesis of held-out violin
    resynth: dict[str, Any] = {}
    for name, fn in (("rave", lambda x: rave_transfer(rave, x)), ("codec_6kbps", lambda x: codec_round_trip(codec, x)),
                     ("ddsp", lambda x: ddsp.synthesize(dd, *_controls(dd, x), audio=None).samples[0])):  # fmt: skip
        rows = []
        for x in held:
            y = fn(x)[: len(x)]
            x_, y_ = x[: len(y)], y
            cents, gross = pitch_figures(y_, x_)
            rows.append({"spectral_distance": float(multiscale_spectral_distance(torch.tensor(y_), torch.tensor(x_))),
                         "mel_distance": float(mel_distance(torch.tensor(y_)[None], torch.tensor(x_)[None], SR)),
                         "f0_median_cents": cents, "f0_gross_share": gross,
                         "loudness_error_db": loudness_error(y_, x_)})  # fmt: skip
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
        for name in ("rave", "ddsp"):
            rows, outs = [], []
            for x in clips:
                if name == "rave":
                    y, shift = rave_transfer(rave, x), 0.0
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
    from cadenza.audio.rave_prior import RAVEPrior
    from cadenza.pretrained import resolve

    folder = resolve(args.model) / "prior"
    if (folder / "config.json").is_file():
        prior = RAVEPrior.from_pretrained(folder)
        frames = -(-(n + rave.delay) // rave.cfg.hop)
        gen = [rave.decode(prior.generate(frames, seed=s))[0, 0, :n].numpy() for s in range(args.prior_clips)]
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            noise = [rave.synthesis(torch.randn(1, rave.cfg.latent_dim, frames, generator=g))[0, 0, :n].numpy()
                     for _ in range(args.prior_clips)]  # fmt: skip
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
    write_result("rave", figures, command="python benchmarks/rave.py")


def _controls(model: ddsp.DDSP, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = ddsp.extract_features(AudioClip(x, SR), model.cfg)
    return f.f0_hz, f.loudness_db


if __name__ == "__main__":
    main()
